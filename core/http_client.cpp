#include "core/http_client.h"

#include <boost/asio/post.hpp>

#include <cctype>

// Placeholder until the libcurl implementation lands: every request fails with kConnect, so
// nothing can be sent by accident.

namespace smsbridge {

std::string_view httpErrorName(HttpError error) {
  switch (error) {
    case HttpError::kNone:
      return "none";
    case HttpError::kConnect:
      return "connect";
    case HttpError::kConnectTimeout:
      return "connect_timeout";
    case HttpError::kTimeout:
      return "timeout";
    case HttpError::kTls:
      return "tls";
    case HttpError::kTooLarge:
      return "too_large";
    case HttpError::kOther:
      return "other";
  }
  return "other";
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return value;
  }
  return {};
}

namespace {
class UnavailableClient final : public HttpTransport {
 public:
  explicit UnavailableClient(boost::asio::io_context& io) : io_(io) {}
  void execute(HttpRequest /*request*/, HttpCallback done) override {
    boost::asio::post(io_, [done = std::move(done)] {
      HttpResponse response;
      response.error = HttpError::kConnect;
      response.error_message = "HTTP client not implemented yet";
      done(std::move(response));
    });
  }
  void shutdown() override {}

 private:
  boost::asio::io_context& io_;
};
}  // namespace

std::shared_ptr<HttpTransport> makeHttpClient(boost::asio::io_context& io,
                                              HttpClientOptions /*options*/) {
  return std::make_shared<UnavailableClient>(io);
}

}  // namespace smsbridge
