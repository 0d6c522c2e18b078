#pragma once

// jobssh-keys' question to meta (docs/design.md, "Where the key is checked"): whose key is this,
// asked while sshd can still go on to the client's next key.

#include <string>
#include <string_view>

namespace jobssh {

struct config;

struct meta_verdict {
    enum class kind {
        known,   // meta named the key's owner: the forced command gets `--owner NAME`
        unknown, // meta answered 404: nothing is printed, sshd tries the next key
        unsure,  // anything else: the forced command without `--owner`, jobssh-shell asks again
    };
    kind what = kind::unsure;
    std::string owner;  // for `known`: a valid sr.ht user name
    std::string detail; // for `unsure`: why, for the operator's log
};

// GET /api/ssh-key/{b64key} on meta, the whole exchange bounded by [jobssh] keys-timeout
// (each step also by http-timeout). Never throws for what meta does or does not answer.
meta_verdict ask_meta(const config& cfg, std::string_view b64key);

} // namespace jobssh
