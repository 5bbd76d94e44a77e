#pragma once

// Checks a loaded document against a schema and reports every problem at once, each with its
// position and key path: unknown keys (with the allowed ones and a "did you mean"), wrong
// types, values outside an enum, missing required keys, missing or unknown variants, a secret
// given both inline and as `<key>_file`, duplicate keys. Pure: reads no files, not even
// `<key>_file` ones.

#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/document.h"
#include "config/schema.h"

namespace smsbridge::config {

// Appends to `out` the document's load diagnostics (unset ${VAR}...) and every schema problem.
// The document is valid for `root` when `out` gained nothing.
void validate(const Document& document, const Schema& root, Diagnostics& out);

// The candidate closest to `given` when it is a plausible typo (edit distance ≤ 2, less for
// short words; a swap of two neighbours counts as one), else "". For messages such as
// "route 'otp' names unknown provider 'twilo' (did you mean 'twilio'?)".
std::string closestMatch(std::string_view given, const std::vector<std::string>& candidates);

}  // namespace smsbridge::config
