#include "providers/callbacks.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/sms_text.h"

namespace smsbridge {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size() || hexValue(text[i + 1]) < 0 || hexValue(text[i + 2]) < 0) {
        return rejectedError("malformed percent-escape in a form parameter");
      }
      int high = hexValue(text[i + 1]);
      int low = hexValue(text[i + 2]);
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

HttpResponse callbackAnswer(std::string body, std::string content_type) {
  HttpResponse response;
  response.status = 200;
  response.content_type = std::move(content_type);
  response.body = std::move(body);
  return response;
}

Result<FormParams> decodeForm(std::string_view text) {
  FormParams params;
  while (!text.empty()) {
    std::size_t amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    auto name = percentDecode(pair.substr(0, eq));
    if (!name) return name.error();
    auto value =
        percentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value) return value.error();
    params.emplace_back(std::move(*name), std::move(*value));
  }
  return params;
}

const std::string* formValue(const FormParams& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return &value;
  }
  return nullptr;
}

std::string mediaType(const HttpRequest& request) {
  const std::string* header = request.header("content-type");
  if (!header) return {};
  std::string_view type(*header);
  type = type.substr(0, type.find(';'));
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) {
    type.remove_suffix(1);
  }
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) {
    type.remove_prefix(1);
  }
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Result<FormParams> callbackParams(const HttpRequest& request) {
  auto params = decodeForm(request.query);
  if (!params) return params.error();
  if (!request.body.empty()) {
    auto form = decodeForm(request.body);
    if (!form) return form.error();
    params->insert(params->end(), form->begin(), form->end());
  }
  for (const auto& [name, value] : *params) {
    if (!isValidUtf8(name) || !isValidUtf8(value)) {
      return rejectedError("a parameter is not valid UTF-8");
    }
  }
  return params;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // The length of a token is no secret worth hiding; its bytes are.
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<TimePoint> parseUnixSeconds(std::string_view text) {
  std::int64_t seconds = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || seconds < 0) {
    return std::nullopt;
  }
  return TimePoint(std::chrono::seconds(seconds));
}

std::string senderAsE164(std::string_view sender) {
  // Eight digits and more is an international number without its '+'; fewer is a short code.
  bool digits = !sender.empty() && std::all_of(sender.begin(), sender.end(),
                                               [](char c) { return c >= '0' && c <= '9'; });
  if (digits && sender.size() >= 8 && sender.size() <= 15) return "+" + std::string(sender);
  return std::string(sender);
}

}  // namespace smsbridge
