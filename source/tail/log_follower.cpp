#include <algorithm>
#include <jobssh/tail/followed_log.hpp>
#include <jobssh/tail/log_follower.hpp>
#include <jobssh/tail/task_discovery.hpp>
#include <span>

namespace jobssh {

namespace asio = boost::asio;
namespace fs = std::filesystem;

struct log_follower::impl {
    task_discovery tasks;
    fs::path job_dir;
    std::size_t chunk_size;
    std::size_t batch_size;
    // Every log is read into this one buffer (not zero-filled); only the bytes after a log's
    // last newline are kept, by its line_assembler.
    std::unique_ptr<char[]> read_buffer;
    bool more = false;         // a log had more waiting than the batch took
    std::size_t next_turn = 0; // the log the next batch starts with
    bool stopped = false;
    bool drained = false;
    std::vector<followed_log> logs;

    impl(asio::any_io_executor executor, fs::path dir, const follow_options& options)
        : tasks(executor, dir, options.poll_interval)
        , job_dir(std::move(dir))
        , chunk_size(std::max<std::size_t>(options.chunk_size, 1))
        , batch_size(std::max(options.batch_size, chunk_size))
        , read_buffer(new char[chunk_size]) {
        logs.emplace_back(job_dir / "log", "log", "", chunk_size);
    }

    bool sync(followed_log& log, follow_output& out) {
        return log.sync(std::span<char>(read_buffer.get(), chunk_size), batch_size + chunk_size / 2,
                        out);
    }

    follow_output read_available() {
        follow_output out;
        for (std::string& task : tasks.new_tasks())
            logs.emplace_back(job_dir / task / "log", task + "/log", "[" + task + "] ", chunk_size);
        more = false;
        // A batch is read a chunk at a time while it has room for another (batch_size), so a
        // big finished job is passed on in batches that stay small in memory. A log with more
        // to read keeps its turn until it is read to its end: a finished job's logs read one
        // after the other, as the job ran. Every piece of an overlong line is a line of its
        // own (line_assembly.hpp), so the logs may take turns anywhere.
        for (std::size_t i = 0; i < logs.size(); ++i) {
            std::size_t at = (next_turn + i) % logs.size();
            followed_log& log = logs[at];
            while (sync(log, out) && out.lines.size() + chunk_size <= batch_size) {
            }
            if (!log.at_end()) {
                next_turn = at;
                more = true;
                break;
            }
            // The next log's first chunk must fit as well: the batch stays within what was
            // reserved for it, and is never moved to a bigger buffer.
            if (out.lines.size() + chunk_size > batch_size && i + 1 < logs.size()) {
                next_turn = (at + 1) % logs.size();
                more = true;
                break;
            }
        }
        return out;
    }
};

log_follower::log_follower(asio::any_io_executor executor, fs::path job_dir, std::size_t chunk_size)
    : log_follower(std::move(executor), std::move(job_dir),
                   follow_options{.chunk_size = chunk_size, .batch_size = chunk_size}) {}

log_follower::log_follower(asio::any_io_executor executor, fs::path job_dir, follow_options options)
    : impl_(std::make_unique<impl>(std::move(executor), std::move(job_dir), options)) {}

log_follower::~log_follower() = default;

follow_output log_follower::read_available() {
    return impl_->read_available();
}

void log_follower::stop() {
    impl_->stopped = true;
    impl_->tasks.cancel();
}

bool log_follower::polling() const {
    return impl_->tasks.polling();
}

bool log_follower::stopped() const {
    return impl_->stopped;
}

asio::awaitable<follow_output> log_follower::next() {
    impl& self = *impl_;
    for (;;) {
        follow_output out = self.read_available();
        if (!out.lines.empty() || !out.notices.empty())
            co_return out;
        if (self.more)
            continue;
        if (self.stopped) {
            // The job is over: a line still held back gets its end, once.
            if (!self.drained) {
                self.drained = true;
                for (followed_log& log : self.logs)
                    log.flush(out.lines);
            }
            co_return out;
        }
        co_await self.tasks.wait();
    }
}

} // namespace jobssh
