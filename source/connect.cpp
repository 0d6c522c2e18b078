// Temporary: replaced by the connect issue.
#include <jobssh/connect.hpp>
#include <jobssh/failure.hpp>

namespace jobssh {

boost::asio::awaitable<int> connect_to_vm(const config&, job_id, const job_info&, const ssh_key&,
                                          const std::vector<std::string>&) {
    throw failure_error(failure::internal, "connect is not implemented yet");
    co_return 70;
}

} // namespace jobssh
