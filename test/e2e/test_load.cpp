// Many sessions at once through the front sshd, loopback only, bounded in count and time:
// concurrent `tail`s of live jobs and concurrent `connect`s on ptys, each checking every byte
// it received. jobssh-shell's memory and CPU are sampled from /proc and printed (the figures
// in docs/reliability.md come from JOBSSH_LOAD_TAILS=200 JOBSSH_LOAD_CONNECTS=50).
// scripts/test runs the short default: 40 tails, 10 connects.
#define BOOST_TEST_MODULE load
#include "pty_driver.hpp"
#include "resilience_helpers.hpp"
#include "sandbox_world.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace jobssh::testing;

namespace {

int from_environment(const char* name, int fallback) {
    const char* value = std::getenv(name);
    return value && *value ? std::max(1, std::atoi(value)) : fallback;
}

const int tails = from_environment("JOBSSH_LOAD_TAILS", 40);
const int connects = from_environment("JOBSSH_LOAD_CONNECTS", 10);
constexpr int sessions_per_job = 10;
constexpr int lines_per_log = 2000;
constexpr int seq_lines = 20000;

int jobs_for(int sessions) {
    return (sessions + sessions_per_job - 1) / sessions_per_job;
}

// Jobs 1..: one VM each, for connects. Jobs 1001..: written by the test, for tails.
std::string jobs_json() {
    std::ostringstream jobs;
    jobs << R"({"jobs": [)";
    for (int i = 1; i <= jobs_for(connects); ++i)
        jobs << (i > 1 ? "," : "") << R"({"id": )" << i
             << R"(, "owner": "alice", "owner_id": 1, "log": ["vm"], "shell": true})";
    for (int i = 1; i <= jobs_for(tails); ++i)
        jobs << R"(,{"id": )" << 1000 + i << R"(, "owner": "alice", "owner_id": 1,
                "manual": true, "tasks": [{"name": "build", "log": []}]})";
    jobs << "]}";
    return jobs.str();
}

// What jobssh-shell processes of the sandbox used, sampled from /proc while they run.
class usage_sampler {
public:
    explicit usage_sampler(fs::path config_file)
        : config_file_(std::move(config_file))
        , thread_([this] {
            while (!done_) {
                sample();
                std::this_thread::sleep_for(200ms);
            }
        }) {}
    ~usage_sampler() { stop(); }

    void stop() {
        done_ = true;
        if (thread_.joinable())
            thread_.join();
    }

    long peak_rss_kib() const { return peak_rss_kib_; }
    long peak_pss_kib() const { return peak_pss_kib_; }
    std::size_t peak_processes() const { return peak_processes_; }
    // CPU seconds (user + system) of every sampled process, as last seen (a lower bound:
    // what a process used after its last sample is not counted).
    double cpu_seconds() const {
        long ticks = 0;
        for (const auto& [pid, t] : cpu_ticks_)
            ticks += t;
        return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }

private:
    void sample() {
        long rss = 0, pss = 0;
        auto shells = shells_of(config_file_);
        for (const auto& shell : shells) {
            auto proc = fs::path("/proc") / std::to_string(shell.pid);
            std::istringstream status(jobssh::testing::read_proc_file(proc / "status"));
            std::string line;
            while (std::getline(status, line))
                if (line.starts_with("VmRSS:"))
                    rss += std::atol(line.c_str() + 6);
            // Proportional set size: shared library pages split among the processes sharing
            // them, so the sum is what these processes cost together.
            std::istringstream rollup(jobssh::testing::read_proc_file(proc / "smaps_rollup"));
            while (std::getline(rollup, line))
                if (line.starts_with("Pss:"))
                    pss += std::atol(line.c_str() + 4);
            std::string text = jobssh::testing::read_proc_file(proc / "stat");
            auto after_name = text.rfind(')');
            if (after_name == std::string::npos)
                continue;
            std::istringstream fields(text.substr(after_name + 2));
            std::string field;
            long utime = 0, stime = 0;
            for (int i = 3; i <= 15 && fields >> field; ++i) {
                if (i == 14)
                    utime = std::atol(field.c_str());
                if (i == 15)
                    stime = std::atol(field.c_str());
            }
            cpu_ticks_[shell.pid] = utime + stime;
        }
        peak_rss_kib_ = std::max(peak_rss_kib_, rss);
        peak_pss_kib_ = std::max(peak_pss_kib_, pss);
        peak_processes_ = std::max(peak_processes_, shells.size());
    }

    fs::path config_file_;
    std::atomic<bool> done_{false};
    long peak_rss_kib_ = 0;
    long peak_pss_kib_ = 0;
    std::size_t peak_processes_ = 0;
    std::map<pid_t, long> cpu_ticks_;
    std::thread thread_;
};

std::string tail_line(int job, int n) {
    return "job " + std::to_string(job) + " line " + std::to_string(n) +
           " caf\xC3\xA9 \xE2\x82\xAC 0123456789abcdefghijklmnopqrstuvwxyz\n";
}

void append(const fs::path& file, const std::string& bytes) {
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary | std::ios::app) << bytes;
}

} // namespace

BOOST_AUTO_TEST_CASE(concurrent_tails_and_connects_through_the_front_sshd_lose_no_byte) {
    BOOST_TEST_MESSAGE("load: " << tails << " tails, " << connects << " connects");
    jobssh::testing::sandbox_world world(
        jobs_json(), alice_alone, [](sandbox_options& options) { options.poll_interval = 500ms; });
    sandbox& box = *world.box;
    for (int j = 1; j <= jobs_for(connects); ++j)
        BOOST_REQUIRE(eventually([&] { return box.vm_running(j); }, 120s));

    usage_sampler usage(box.config_file());
    auto started = std::chrono::steady_clock::now();

    // One at a time until each is in (sshd's MaxStartups drops a crowd of unauthenticated
    // connections): the tails, each waiting on a live job...
    for (int j = 1; j <= jobs_for(tails); ++j)
        append(box.buildlogs() / std::to_string(1000 + j) / "log", "start\n");
    std::vector<std::unique_ptr<started_program>> tail_users;
    for (int i = 0; i < tails; ++i) {
        int job = 1000 + 1 + i / sessions_per_job;
        tail_users.push_back(std::make_unique<started_program>(
            box.ssh_argv("alice", "tail " + std::to_string(job))));
        BOOST_REQUIRE_MESSAGE(tail_users.back()->read_until("start\n", 60s),
                              "tail " << i << ": " << tail_users.back()->err());
    }
    // ...and the connects, each waiting on its VM for the go.
    std::vector<std::unique_ptr<pty_driver>> connect_users;
    for (int i = 0; i < connects; ++i) {
        int job = 1 + i / sessions_per_job;
        connect_users.push_back(std::make_unique<pty_driver>(box.ssh_argv(
            "alice",
            "connect " + std::to_string(job) +
                " -- sh -c 'echo waiting-for-go; while [ ! -e /tmp/go ]; do sleep 0.2; "
                "done; seq 1 " +
                std::to_string(seq_lines) + "'",
            true)));
        // One command gets no banner: its own first line says it is in.
        BOOST_REQUIRE_MESSAGE(connect_users.back()->expect("waiting-for-go", 60s),
                              "connect " << i << ": " << connect_users.back()->output());
    }
    auto ramped = std::chrono::steady_clock::now();
    // One jobssh-shell per session, once each has settled: a connect's fork of ssh is
    // jobssh-shell too until its exec.
    const auto sessions = static_cast<std::size_t>(tails + connects);
    BOOST_TEST(eventually([&] { return shells_of(box.config_file()).size() == sessions; }, 10s),
               shells_of(box.config_file()).size()
                   << " jobssh-shell processes for " << sessions << " sessions");

    // Every session reads on its own thread from now on.
    std::vector<std::optional<int>> tail_status(tails), connect_status(connects);
    std::vector<std::thread> readers;
    for (int i = 0; i < tails; ++i)
        readers.emplace_back([&, i] { tail_status[i] = tail_users[i]->wait(300s); });
    for (int i = 0; i < connects; ++i)
        readers.emplace_back([&, i] { connect_status[i] = connect_users[i]->wait(300s); });

    // The jobs write in pieces, a task starts, they end.
    for (int chunk = 0; chunk < 20; ++chunk) {
        for (int j = 1; j <= jobs_for(tails); ++j) {
            std::string job_lines, task_lines;
            for (int n = chunk * lines_per_log / 20; n < (chunk + 1) * lines_per_log / 20; ++n) {
                job_lines += tail_line(j, n);
                task_lines += tail_line(j, -n);
            }
            append(box.buildlogs() / std::to_string(1000 + j) / "log", job_lines);
            append(box.buildlogs() / std::to_string(1000 + j) / "build" / "log", task_lines);
        }
        std::this_thread::sleep_for(50ms);
    }
    for (int j = 1; j <= jobs_for(connects); ++j) {
        auto go = sandbox::run(box.vm_ssh_argv(j, "touch /tmp/go"));
        BOOST_REQUIRE_MESSAGE(go.exit_code == 0, go.err);
    }
    for (int j = 1; j <= jobs_for(tails); ++j)
        box.set_job(1000 + j, R"({"status": "success", "task": 1, "tasks": 1})");
    for (auto& reader : readers)
        reader.join();
    auto finished = std::chrono::steady_clock::now();
    BOOST_TEST(eventually([&] { return shells_of(box.config_file()).empty(); }));
    usage.stop();

    for (int i = 0; i < tails; ++i) {
        int j = 1 + i / sessions_per_job;
        std::string job_expected = "start\n", task_expected;
        for (int n = 0; n < lines_per_log; ++n) {
            job_expected += tail_line(j, n);
            task_expected += "[build] " + tail_line(j, -n);
        }
        std::string job_seen, task_seen;
        std::istringstream lines(tail_users[i]->out());
        for (std::string line; std::getline(lines, line);)
            (line.starts_with("[build] ") ? task_seen : job_seen) += line + "\n";
        BOOST_TEST(tail_status[i].value_or(-1) == 0, "tail " << i << ": " << tail_users[i]->err());
        BOOST_TEST((job_seen == job_expected), "tail " << i << ": job log differs");
        BOOST_TEST((task_seen == task_expected), "tail " << i << ": task log differs");
        BOOST_TEST(tail_users[i]->out().size() == job_expected.size() + task_expected.size());
    }
    std::string seq;
    for (int n = 1; n <= seq_lines; ++n)
        seq += std::to_string(n) + "\r\n";
    for (int i = 0; i < connects; ++i) {
        const std::string& output = connect_users[i]->output();
        BOOST_TEST(connect_status[i].value_or(-1) == 0, "connect " << i);
        auto at = output.find("\r\n1\r\n");
        BOOST_TEST((at != std::string::npos && output.substr(at + 2, seq.size()) == seq),
                   "connect " << i << ": the numbers differ");
        BOOST_TEST(output.ends_with(seq), "connect " << i << ": more after the numbers");
    }

    using seconds = std::chrono::duration<double>;
    BOOST_TEST_MESSAGE("load result: " << tails << " tails + " << connects << " connects; ramp "
                                       << seconds(ramped - started).count() << " s, all done "
                                       << seconds(finished - ramped).count() << " s later");
    BOOST_TEST_MESSAGE("load result: jobssh-shell processes at once (sampled): "
                       << usage.peak_processes()
                       << ", their RSS summed at peak: " << usage.peak_rss_kib() << " KiB ("
                       << usage.peak_rss_kib() / std::max<std::size_t>(1, usage.peak_processes())
                       << " KiB each), PSS summed at peak: " << usage.peak_pss_kib()
                       << " KiB, CPU user+system of all of them: " << usage.cpu_seconds() << " s");
}
