#pragma once

// Internal to config/: maps a byte offset inside a scalar's value (what yaml-cpp hands out)
// back to the byte in the YAML text it came from, so a diagnostic about a template or
// expression can point at the exact column even when the value was quoted, escaped or folded.

#include <cstddef>
#include <string_view>

namespace smsbridge::config {

// `text` is the whole document, `start` the byte where yaml-cpp's Mark says the scalar begins
// (its quote or block indicator included), `value` the scalar as yaml-cpp decoded it. Offsets
// past the end mean the end. When the source cannot be matched against the value (a ${VAR} was
// substituted, an unusual indentation indicator) this returns where the value's text starts.
std::size_t locateInScalar(std::string_view text, std::size_t start, std::string_view value,
                           std::size_t offset);

}  // namespace smsbridge::config
