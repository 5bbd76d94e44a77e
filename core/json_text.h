#pragma once

// JSON text written by hand where building a nlohmann::json tree first would cost more than the
// text itself: provider request bodies on the send path, and binlog JSON columns decoded to text.

#include <string>
#include <string_view>

namespace smsbridge {

// Appends `text` as a JSON string, quoted and escaped byte for byte as nlohmann's dump() would
// (so text built either way is identical): `"` `\` and the control characters are escaped, every
// other byte is copied. `text` must be valid UTF-8 for the result to be valid JSON.
void appendJsonString(std::string& out, std::string_view text);

}  // namespace smsbridge
