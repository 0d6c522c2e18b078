// jobssh-shell: sshd's forced command for the builds user. All logic is in shell.cpp.
#include <jobssh/shell.hpp>

int main(int argc, char** argv) {
    return jobssh::run_shell(argc, argv);
}
