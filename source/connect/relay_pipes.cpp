#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/this_coro.hpp>
#include <jobssh/connect/relay.hpp>
#include <jobssh/connect/relay_steps.hpp>

namespace jobssh {

namespace asio = boost::asio;
using stream_descriptor = asio::posix::stream_descriptor;
using namespace asio::experimental::awaitable_operators;

asio::awaitable<session_result> relay_with_pipes(std::filesystem::path program,
                                                 std::vector<std::string> args, user_side user,
                                                 session_options options) {
    auto executor = co_await asio::this_coro::executor;
    relay_scope scope(executor, options, user);

    auto in_pipe = make_pipe();
    auto out_pipe = make_pipe();
    auto err_pipe = make_pipe();
    stream_descriptor child_in(executor, in_pipe.write);
    stream_descriptor child_out(executor, out_pipe.read);
    stream_descriptor child_err(executor, err_pipe.read);
    child process = start_then_close(executor, program, args,
                                     {in_pipe.read, out_pipe.write, err_pipe.write, false},
                                     {in_pipe.read, out_pipe.write, err_pipe.write});

    stream_descriptor in(executor, duplicate_fd(user.in));
    stream_descriptor out(executor, duplicate_fd(user.out));
    stream_descriptor err(executor, duplicate_fd(user.err));

    session_result result;
    auto output = [&]() -> asio::awaitable<session_end> {
        auto [stdout_end, stderr_end] =
            co_await (transfer(child_out, out, nullptr, {}, options.on_started) &&
                      transfer(child_err, err, &result.child_stderr));
        bool user_gone = stdout_end == gave_up::writing || stderr_end == gave_up::writing;
        co_return user_gone ? session_end::hangup : session_end::child_exited;
    };
    auto input = [&]() -> asio::awaitable<session_end> {
        co_await transfer(in, child_in, nullptr, {}, [&result] { result.read_input = true; });
        child_in.close(); // EOF passed on
        co_return co_await forever_then(session_end::hangup);
    };
    result.end =
        co_await race_end(output() || input() || reader_gone(out) || caught_signal(scope.signals) ||
                          deadline_watch(options, err, false));
    result.exit_status = co_await finish_child(process, result.end, options.stop_grace);
    co_return result;
}

} // namespace jobssh
