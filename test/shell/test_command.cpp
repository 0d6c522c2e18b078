#define BOOST_TEST_MODULE command
#include <boost/test/unit_test.hpp>
#include <jobssh/common/config.hpp>
#include <jobssh/common/failure.hpp>
#include <jobssh/shell/command.hpp>

using jobssh::failure;
using jobssh::failure_error;
using words = std::vector<std::string>;

namespace jobssh {
// Failures show in test reports as the exit status the user would see.
std::ostream& operator<<(std::ostream& out, failure kind) {
    return out << "failure(exit " << exit_code(kind) << ")";
}
} // namespace jobssh

namespace {

// The failure parse_command throws for `text`, which must be one.
failure refusal(std::string_view text) {
    try {
        jobssh::parse_command(text);
    } catch (const failure_error& error) {
        return error.kind();
    }
    BOOST_FAIL("accepted: " << text);
    return failure::internal;
}

// The remote command of `text`, which must be a connect.
std::string remote_command_of(std::string_view text) {
    return std::get<jobssh::connect_command>(jobssh::parse_command(text)).remote_command;
}

} // namespace

BOOST_AUTO_TEST_CASE(splitting_follows_python_shlex_in_posix_mode) {
    // Each expectation is what Python 3's shlex.split gives for the same text.
    const std::vector<std::pair<std::string, words>> cases = {
        {"connect 42", {"connect", "42"}},
        {"  tail\t42  ", {"tail", "42"}},
        {"a 'b c' d", {"a", "b c", "d"}},
        {"a \"b c\" d", {"a", "b c", "d"}},
        {"a\\ b", {"a b"}},
        {"''", {""}},
        {"a \"\" b", {"a", "", "b"}},
        {"x'y'z", {"xyz"}},
        {"a\"b\\\"c\"d", {"ab\"cd"}},
        {"\"a\\b\"", {"a\\b"}},
        {"\"a\\\\b\"", {"a\\b"}},
        {"'a\\b'", {"a\\b"}},
        {"\"\\$HOME\"", {"\\$HOME"}},
        {"a\\\nb", {"a\nb"}},
        {"#c d", {"#c", "d"}},
        {"it'\"'s", {"it\"s"}},
        {"\\\"", {"\""}},
        {"", {}},
        {" \t\r\n", {}},
    };
    for (const auto& [text, expected] : cases) {
        auto split = jobssh::shlex_split(text);
        BOOST_TEST_REQUIRE(split.has_value(), "no split for [" << text << "]");
        BOOST_TEST(*split == expected, "[" << text << "]");
    }
}

BOOST_AUTO_TEST_CASE(unbalanced_quotes_and_a_trailing_backslash_do_not_split) {
    for (std::string text :
         {"\"abc", "'abc", "a \"b", "connect 1 -- echo 'hi", "x\\", "\\", "\"a\\\""})
        BOOST_TEST(!jobssh::shlex_split(text).has_value(), "[" << text << "]");
}

BOOST_AUTO_TEST_CASE(job_ids_are_decimal_numbers_from_1_to_2_63_minus_1) {
    BOOST_TEST(jobssh::parse_job_id("1").value() == 1);
    BOOST_TEST(jobssh::parse_job_id("4211").value() == 4211);
    BOOST_TEST(jobssh::parse_job_id("9223372036854775807").value() == INT64_MAX);
    for (std::string text : {"-1", "0x10", "1e3", "99999999999999999999", "", "0", "00", "+5", " 5",
                             "5 ", "9223372036854775808", "4.2", "42a", "\xd9\xa3"})
        BOOST_TEST(!jobssh::parse_job_id(text).has_value(), "[" << text << "]");
}

BOOST_AUTO_TEST_CASE(tail_takes_exactly_one_job) {
    auto tail = std::get<jobssh::tail_command>(jobssh::parse_command("tail 4211"));
    BOOST_TEST(tail.job == 4211);
    BOOST_TEST(refusal("tail") == failure::usage);
    BOOST_TEST(refusal("tail 1 2") == failure::usage);
}

BOOST_AUTO_TEST_CASE(connect_without_a_command_opens_bash) {
    auto connect = std::get<jobssh::connect_command>(jobssh::parse_command("connect 4211"));
    BOOST_TEST(connect.job == 4211);
    BOOST_TEST(connect.remote_command.empty());
    BOOST_TEST(remote_command_of("connect 4211 \t ").empty());
}

BOOST_AUTO_TEST_CASE(a_separator_with_no_command_after_it_is_a_usage_error_of_its_own) {
    // `--` promises a command; a shell reading stdin instead would not be what was meant.
    for (std::string text : {"connect 4211 --", "connect 4211 -- ", "connect 4211 --\t\r\n "})
        BOOST_TEST((refusal(text) == failure::empty_command), "[" << text << "]");
    BOOST_TEST(jobssh::exit_code(failure::empty_command) == 64);
    jobssh::config cfg;
    auto message = user_message(failure::empty_command, cfg);
    BOOST_TEST(message.starts_with("There is no command after --: put the command to run after "
                                   "it, or leave out -- for a shell.\nUsage: ssh ... connect"),
               message);
    // A quoted empty word is a command, the VM shell's to run.
    BOOST_TEST(remote_command_of("connect 4211 -- ''") == "''");
}

BOOST_AUTO_TEST_CASE(connect_passes_the_rest_after_the_job_on_unchanged) {
    // What ssh sends for `ssh … connect 5 -- sh -c 'cat; exit 7'` typed in a shell: the VM's
    // shell must read it as it would after a direct `ssh build@vm`.
    BOOST_TEST(remote_command_of("connect 5 -- sh -c cat; exit 7") == "sh -c cat; exit 7");
    BOOST_TEST(remote_command_of("connect 5 -- sh -c 'cat > /tmp/blob'") ==
               "sh -c 'cat > /tmp/blob'");
    BOOST_TEST(remote_command_of("connect 5 -- echo $HOME") == "echo $HOME");
    BOOST_TEST(remote_command_of("connect 5 ls -l") == "ls -l");
    BOOST_TEST(remote_command_of("connect 5 -- make 'check all'  --keep-going ") ==
               "make 'check all'  --keep-going ");
    BOOST_TEST(remote_command_of("connect 5 --\techo \"a  b\"\\ c") == "echo \"a  b\"\\ c");
    BOOST_TEST(remote_command_of("  connect\t'5'   x") == "x");
}

BOOST_AUTO_TEST_CASE(only_the_first_separator_after_the_job_is_jobssh_s) {
    BOOST_TEST(remote_command_of("connect 7 -- -- x") == "-- x");
    BOOST_TEST(remote_command_of("connect 7 \"--\" ls") == "ls");
    BOOST_TEST(remote_command_of("connect 7 --x") == "--x");
    BOOST_TEST(remote_command_of("connect 7 ls -- x") == "ls -- x");
}

BOOST_AUTO_TEST_CASE(what_the_vm_s_shell_would_refuse_is_left_for_it_to_refuse) {
    // A direct ssh hands these to the VM's shell too, which says what is wrong with them.
    BOOST_TEST(remote_command_of("connect 1 -- echo \"hi") == "echo \"hi");
    BOOST_TEST(remote_command_of("connect 1 echo it's") == "echo it's");
    BOOST_TEST(remote_command_of("connect 1 -- x\\") == "x\\");
}

BOOST_AUTO_TEST_CASE(scp_sftp_and_rsync_are_pointed_at_the_tar_recipe_with_status_64) {
    // What sshd puts in SSH_ORIGINAL_COMMAND for legacy scp, for the sftp subsystem (which
    // scp uses too since OpenSSH 9.0) as Debian and the sandbox configure it, and for rsync.
    for (std::string text :
         {"scp -t /tmp/x", "scp -f -- out.tar", "scp -v -r -t .", "internal-sftp",
          "/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server -l INFO",
          "rsync --server -vlogDtpre.iLsfxCIvu . /tmp"})
        BOOST_TEST((refusal(text) == failure::file_transfer), "[" << text << "]");
    BOOST_TEST(jobssh::exit_code(failure::file_transfer) == 64);
    jobssh::config cfg;
    auto message = user_message(failure::file_transfer, cfg);
    BOOST_TEST(message.find("connect <job ID> -- tar c") != std::string::npos, message);
    BOOST_TEST(message.find("connect <job ID> -- 'tar x'") != std::string::npos, message);
    // A command named like one, run on the VM, is the VM's business.
    BOOST_TEST(remote_command_of("connect 3 -- scp -t /tmp") == "scp -t /tmp");
}

BOOST_AUTO_TEST_CASE(watch_takes_a_job_and_optionally_which_live_session) {
    auto newest = std::get<jobssh::watch_command>(jobssh::parse_command("watch 4211"));
    BOOST_TEST(newest.job == 4211);
    BOOST_TEST(!newest.session.has_value());
    auto second = std::get<jobssh::watch_command>(jobssh::parse_command("watch 4211 2"));
    BOOST_TEST((second.session == 2u));
    for (std::string text : {"watch", "watch 1 0", "watch 1 x", "watch 1 2 3"})
        BOOST_TEST((refusal(text) == failure::usage), "[" << text << "]");
    BOOST_TEST((refusal("watch x") == failure::bad_job_id));
}

BOOST_AUTO_TEST_CASE(replay_lists_or_plays_one_recording_at_a_speed) {
    auto list = std::get<jobssh::replay_command>(jobssh::parse_command("replay 7"));
    BOOST_TEST(list.job == 7);
    BOOST_TEST(!list.recording.has_value());
    BOOST_TEST(list.speed == 1.0);
    auto fast = std::get<jobssh::replay_command>(jobssh::parse_command("replay 7 3 --speed 2.5"));
    BOOST_TEST((fast.recording == 3u));
    BOOST_TEST(fast.speed == 2.5);
    auto before = std::get<jobssh::replay_command>(jobssh::parse_command("replay 7 --speed 2 1"));
    BOOST_TEST((before.recording == 1u));
    BOOST_TEST(before.speed == 2.0);
    for (std::string text : {"replay", "replay 7 0", "replay 7 1 2", "replay 7 --speed",
                             "replay 7 --speed 0", "replay 7 --speed fast", "replay 7 --speed 1e9"})
        BOOST_TEST((refusal(text) == failure::usage), "[" << text << "]");
}

BOOST_AUTO_TEST_CASE(help_is_a_command_of_its_own) {
    BOOST_TEST(std::holds_alternative<jobssh::help_command>(jobssh::parse_command("help")));
}

BOOST_AUTO_TEST_CASE(nothing_unknown_commands_and_unbalanced_quotes_are_usage_errors) {
    for (std::string text : {"", "   ", "rm -rf /", "connect", "connect ", "CONNECT 1", "tail 'x",
                             "\\", "connect '1", "connect 1\\", "help 'x"})
        BOOST_TEST((refusal(text) == failure::usage), "[" << text << "]");
    BOOST_TEST(jobssh::exit_code(failure::usage) == 64);
}

BOOST_AUTO_TEST_CASE(a_bad_job_id_is_refused_with_exit_status_65) {
    for (std::string job : {"-1", "0x10", "1e3", "99999999999999999999", "''", "0", "abc"}) {
        BOOST_TEST((refusal("connect " + job) == failure::bad_job_id), job);
        BOOST_TEST((refusal("tail " + job) == failure::bad_job_id), job);
        BOOST_TEST((refusal("connect " + job + " -- ls") == failure::bad_job_id), job);
        // A `--` before the job ID ends options: what follows is still a bad job ID.
        for (std::string verb : {"tail", "watch", "replay"})
            BOOST_TEST((refusal(verb + " -- " + job) == failure::bad_job_id),
                       verb << " -- " << job);
    }
    BOOST_TEST(std::get<jobssh::tail_command>(jobssh::parse_command("tail -- 42")).job == 42);
    // The message is true of every one of them, 0 included.
    jobssh::config cfg;
    BOOST_TEST(user_message(failure::bad_job_id, cfg)
                   .starts_with("That is not a job ID: a job ID is a whole number from 1 up, like "
                                "4211.\n"));
    BOOST_TEST(jobssh::exit_code(failure::bad_job_id) == 65);
}

BOOST_AUTO_TEST_CASE(failures_exit_with_their_sysexits_codes) {
    BOOST_TEST(jobssh::exit_code(failure::no_such_job) == 66);
    BOOST_TEST(jobssh::exit_code(failure::unknown_key) == 77);
    BOOST_TEST(jobssh::exit_code(failure::not_permitted) == 77);
    BOOST_TEST(jobssh::exit_code(failure::runner_unreachable) == 69);
    BOOST_TEST(jobssh::exit_code(failure::vm_unreachable) == 69);
    BOOST_TEST(jobssh::exit_code(failure::vm_host_key) == 69);
    BOOST_TEST(jobssh::exit_code(failure::runner_timeout) == 75);
    BOOST_TEST(jobssh::exit_code(failure::temporary) == 75);
    BOOST_TEST(jobssh::exit_code(failure::vm_login) == 69);
    BOOST_TEST(jobssh::exit_code(failure::config) == 78);
    BOOST_TEST(jobssh::exit_code(failure::internal) == 70);
}

BOOST_AUTO_TEST_CASE(users_are_told_what_went_wrong_and_whom_to_ask) {
    jobssh::config cfg;
    cfg.owner_name = "Ada Admin";
    cfg.owner_email = "ada@example.org";
    cfg.meta_origin = "https://meta.example.org";
    const std::string support = "Please reach out to Ada Admin <ada@example.org> for support.\n";
    BOOST_TEST(user_message(failure::no_such_job, cfg) == "No such job found.\n" + support);
    BOOST_TEST(user_message(failure::unknown_key, cfg) ==
               "We don't recognize your SSH key. Make sure you've added it to your account.\n"
               "https://meta.example.org/keys\n" +
                   support);
    BOOST_TEST(user_message(failure::temporary, cfg) ==
               "Temporary authentication failure. Try again later.\n" + support);
    // A slow runner is not an authentication failure.
    BOOST_TEST(user_message(failure::runner_timeout, cfg) ==
               "The build runner did not answer in time. Try again later.\n" + support);
    BOOST_TEST(user_message(failure::not_permitted, cfg) ==
               "You are not permitted to connect to this job.\n" + support);
    BOOST_TEST(user_message(failure::not_permitted_view, cfg) ==
               "You are not permitted to watch or replay this job's sessions.\n" + support);
    BOOST_TEST(jobssh::exit_code(failure::not_permitted_view) == 77);
    auto usage = user_message(failure::usage, cfg);
    BOOST_TEST(usage.starts_with("Usage: ssh ... connect <job ID>\n"));
    BOOST_TEST(usage.find("ssh ... tail <job ID>\n") != std::string::npos);
    BOOST_TEST(usage.find("ssh -t ... connect <job ID>") != std::string::npos);
    for (auto kind : {failure::bad_job_id, failure::runner_unreachable, failure::vm_unreachable,
                      failure::vm_host_key, failure::vm_login, failure::file_transfer,
                      failure::config, failure::internal}) {
        auto message = user_message(kind, cfg);
        BOOST_TEST(message.size() > support.size() + 10);
        BOOST_TEST(message.ends_with(support));
    }
}
