#define BOOST_TEST_MODULE authorized_keys
#include "scratch_dir.hpp"

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <jobssh/common/user_name.hpp>
#include <jobssh/keys/authorized_keys.hpp>
#include <jobssh/shell/command.hpp>
#include <memory>

using jobssh::authorized_keys_line;
using words = std::vector<std::string>;

namespace {

const std::string ed25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIGgrUHHEdqhBhO9bR5fJkxx5PPGTYPl1vE1Cbrjs2Kv5";

// What sshd's opt_dequote() makes of a command="…" value: `\"` is a quote, every other
// character (backslashes too) stays as it is, the first bare `"` ends it.
std::string sshd_command_of(const std::string& line) {
    const std::string start = "restrict,pty,command=\"";
    BOOST_TEST_REQUIRE(line.starts_with(start));
    std::string command;
    for (std::size_t i = start.size(); i < line.size(); ++i) {
        if (line[i] == '"')
            return command;
        if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '"')
            ++i;
        command += line[i];
    }
    BOOST_FAIL("no end quote in " << line);
    return command;
}

// The first line a shell command prints.
std::string read_first_line(const std::string& command) {
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
    BOOST_TEST_REQUIRE(pipe != nullptr, command);
    char line[16384] = {};
    BOOST_TEST_REQUIRE(std::fgets(line, sizeof line, pipe.get()) != nullptr, command);
    std::string text(line);
    if (!text.empty() && text.back() == '\n')
        text.pop_back();
    return text;
}

} // namespace

BOOST_AUTO_TEST_CASE(the_line_forces_jobssh_shell_with_the_key_as_its_argument) {
    BOOST_TEST(authorized_keys_line("/usr/bin/jobssh-shell", std::nullopt, "ssh-ed25519",
                                    ed25519) == "restrict,pty,command=\"/usr/bin/jobssh-shell '" +
                                                    ed25519 + "'\" ssh-ed25519 " + ed25519 +
                                                    " somebody\n");
}

BOOST_AUTO_TEST_CASE(a_config_file_travels_into_the_forced_command) {
    BOOST_TEST(authorized_keys_line("/usr/bin/jobssh-shell", "/etc/jobssh/config.ini",
                                    "ssh-ed25519", ed25519) ==
               "restrict,pty,command=\"/usr/bin/jobssh-shell --config /etc/jobssh/config.ini '" +
                   ed25519 + "'\" ssh-ed25519 " + ed25519 + " somebody\n");
}

BOOST_AUTO_TEST_CASE(a_known_owner_travels_into_the_forced_command_before_the_key) {
    auto line = authorized_keys_line("/usr/bin/jobssh-shell", "/etc/jobssh/config.ini",
                                     "ssh-ed25519", ed25519, "alice");
    BOOST_TEST(line == "restrict,pty,command=\"/usr/bin/jobssh-shell --config "
                       "/etc/jobssh/config.ini --owner alice '" +
                           ed25519 + "'\" ssh-ed25519 " + ed25519 + " somebody\n");
    auto argv = jobssh::shlex_split(sshd_command_of(line));
    BOOST_TEST_REQUIRE(argv.has_value());
    BOOST_TEST(*argv == (words{"/usr/bin/jobssh-shell", "--config", "/etc/jobssh/config.ini",
                               "--owner", "alice", ed25519}));
}

// What meta might answer as an owner's name that must never reach the line, quoted or not.
const std::vector<std::string> malformed_names = {"",
                                                  "alice bob",
                                                  "alice\"",
                                                  "alice'",
                                                  "al,ice",
                                                  "alice\n",
                                                  "a\nrestrict",
                                                  "$(id)",
                                                  "`id`",
                                                  "alice;id",
                                                  "Alice",
                                                  "-alice",
                                                  "--config",
                                                  "al\\ice",
                                                  std::string("al\0ice", 6),
                                                  "al\xc3\xa9",
                                                  "alice\r",
                                                  "a b,c=\"d",
                                                  std::string(31, 'a'),
                                                  "~alice",
                                                  "alice/../x",
                                                  "\"; touch x; \""};

BOOST_AUTO_TEST_CASE(an_owner_that_is_not_a_sr_ht_user_name_never_reaches_the_line) {
    for (const auto& name : malformed_names) {
        BOOST_TEST(!jobssh::valid_user_name(name), "[" << name << "]");
        BOOST_CHECK_THROW(authorized_keys_line("/usr/bin/jobssh-shell", std::nullopt, "ssh-ed25519",
                                               ed25519, name),
                          jobssh::authorized_keys_error);
    }
}

BOOST_AUTO_TEST_CASE(sr_ht_user_names_are_owners) {
    for (std::string name : std::vector<std::string>{"alice", "bob", "_x", "a", "a-b_c", "x0",
                                                     "sir-hat_99", std::string(30, 'z')})
        BOOST_TEST(jobssh::valid_user_name(name), name);
}

BOOST_AUTO_TEST_CASE(a_key_fingerprint_is_the_one_ssh_keygen_prints) {
    // ssh-keygen -l of "ssh-ed25519 <ed25519>"
    BOOST_TEST(jobssh::key_fingerprint(ed25519) ==
               "SHA256:HmGOS+7+13AhFjrGc2BkrX8cwaFR2NrY2P3G0My0z1w");
}

BOOST_AUTO_TEST_CASE(fingerprints_of_generated_keys_of_every_type_match_ssh_keygen) {
    // Keys of each length class (RSA's padding differs from ed25519's), made at test time.
    jobssh::testing::scratch_dir dir;
    for (std::string type : {"ed25519", "rsa", "ecdsa"}) {
        auto file = dir.path() / type;
        std::string make = "ssh-keygen -q -t " + type + " -N '' -f '" + file.string() + "'";
        BOOST_TEST_REQUIRE(std::system(make.c_str()) == 0, make);
        auto public_line = read_first_line("cat '" + file.string() + ".pub'");
        auto expected = read_first_line("ssh-keygen -l -f '" + file.string() + ".pub'");
        // "<bits> SHA256:… comment (TYPE)" and "<type> <base64> comment"
        auto fingerprint = expected.substr(expected.find(' ') + 1);
        fingerprint = fingerprint.substr(0, fingerprint.find(' '));
        auto b64 = public_line.substr(public_line.find(' ') + 1);
        b64 = b64.substr(0, b64.find(' '));
        BOOST_TEST(jobssh::key_fingerprint(b64) == fingerprint, type);
    }
}

BOOST_AUTO_TEST_CASE(awkward_paths_reach_the_shell_as_they_are) {
    // The shell that runs the command splits like POSIX sh, as shlex_split does.
    for (std::string awkward :
         {"/opt/my shell/jobssh-shell", "/opt/it's/jobssh-shell", "/opt/\"q\"/jobssh-shell",
          "/opt/back\\slash\\/jobssh-shell", "/opt/\\\"/x", "/opt/$HOME/`id`/x;rm", "/opt/x\\",
          "/opt/tab\there", "-dash"}) {
        auto line = authorized_keys_line(awkward, awkward + ".ini", "ssh-ed25519", ed25519);
        BOOST_TEST(line.find('\n') == line.size() - 1);
        auto argv = jobssh::shlex_split(sshd_command_of(line));
        BOOST_TEST_REQUIRE(argv.has_value(), line);
        BOOST_TEST(*argv == (words{awkward, "--config", awkward + ".ini", ed25519}), line);
    }
}

BOOST_AUTO_TEST_CASE(paths_that_cannot_be_on_one_line_are_refused) {
    BOOST_CHECK_THROW(authorized_keys_line("/opt/new\nline", std::nullopt, "ssh-ed25519", ed25519),
                      jobssh::authorized_keys_error);
    BOOST_CHECK_THROW(
        authorized_keys_line("/usr/bin/jobssh-shell", "/etc/a\rb.ini", "ssh-ed25519", ed25519),
        jobssh::authorized_keys_error);
    BOOST_CHECK_THROW(authorized_keys_line("", std::nullopt, "ssh-ed25519", ed25519),
                      jobssh::authorized_keys_error);
}

BOOST_AUTO_TEST_CASE(key_types_sshd_hands_over_are_accepted) {
    for (std::string type : {"ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256",
                             "sk-ssh-ed25519@openssh.com", "ssh-ed25519-cert-v01@openssh.com"})
        BOOST_TEST(jobssh::valid_key_type(type), type);
}

BOOST_AUTO_TEST_CASE(key_types_outside_lowercase_digits_at_dot_and_dash_are_refused) {
    for (std::string type :
         std::vector<std::string>{"", "SSH-ED25519", "ssh ed25519", "ssh-ed25519\n", "ssh\"",
                                  "ssh'", "ssh,x", std::string("ssh\0x", 5), std::string(300, 'a')})
        BOOST_TEST(!jobssh::valid_key_type(type), "[" << type << "]");
}

BOOST_AUTO_TEST_CASE(padded_base64_up_to_16_kib_is_a_key) {
    BOOST_TEST(jobssh::valid_key(ed25519));
    BOOST_TEST(jobssh::valid_key("AAAA"));
    BOOST_TEST(jobssh::valid_key("AA+/AA=="));
    BOOST_TEST(jobssh::valid_key("AAA="));
    BOOST_TEST(jobssh::valid_key(std::string(16 * 1024, 'A')));
}

BOOST_AUTO_TEST_CASE(keys_with_quotes_spaces_newlines_or_other_bytes_are_refused) {
    for (std::string key : std::vector<std::string>{
             std::string(), ed25519 + "'", "'" + ed25519, ed25519 + "\"", ed25519 + " x",
             ed25519 + "\n", "AAAA\nAAAA", "AA AA", "AA*A", "AA-_", "AAA", "A===", "AA=A",
             "====", "AAAA\\", std::string("AA\0A", 4), std::string(16 * 1024 + 4, 'A'),
             "AAAA$(id)", "\xc3\xa9\xc3\xa9"})
        BOOST_TEST(!jobssh::valid_key(key), "[" << key.substr(0, 40) << "]");
}
