#pragma once

// A sr.ht user name, as meta.sr.ht lets people pick one: it is printed into the forced
// command of jobssh-keys (`--owner NAME`), so nothing of another shape may pass.

#include <cstddef>
#include <string_view>

namespace jobssh {

// meta.sr.ht's sign-up rule: at most 30 characters.
inline constexpr std::size_t longest_user_name = 30;

// `[a-z_][a-z0-9_-]*`, 1 to longest_user_name characters: no quote, space, comma, `$` or
// newline can reach a command line, and no leading `-` can be taken for an option.
bool valid_user_name(std::string_view name);

} // namespace jobssh
