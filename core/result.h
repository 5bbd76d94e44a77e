#pragma once

// Errors inside the bridge are values. A Status carries a category that tells the caller what
// to do about it; Result<T> is a value or a non-ok Status. The API follows std::expected
// (has_value, value, error, operator*) so it can become one when the toolchain allows.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace smsbridge {

enum class ErrorCategory {
  kConfig,             // the operator's configuration is wrong; fix it and restart
  kTransient,          // try again later: network, lock, timeout, server restart
  kProviderPermanent,  // the provider refuses this account or request; fail over
  kRejected,           // the message itself is unusable anywhere (bad number, bad content)
  kSourceLost,         // a capture position can no longer be resumed; needs the operator
  kInternal,           // a bug or an impossible state
};

std::string_view categoryName(ErrorCategory category);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(ErrorCategory category, std::string message)
      : ok_(false), category_(category), message_(std::move(message)) {}

  static Status ok() { return Status(); }

  bool isOk() const { return ok_; }
  explicit operator bool() const { return ok_; }
  ErrorCategory category() const { return category_; }
  const std::string& message() const { return message_; }

  // "category: message", for logs and CLI output.
  std::string toString() const;

  // Prefixes the message with context ("loading orders: ..."), keeping the category.
  Status withContext(std::string_view context) const;

 private:
  bool ok_ = true;
  ErrorCategory category_ = ErrorCategory::kInternal;
  std::string message_;
};

inline Status configError(std::string message) {
  return {ErrorCategory::kConfig, std::move(message)};
}
inline Status transientError(std::string message) {
  return {ErrorCategory::kTransient, std::move(message)};
}
inline Status rejectedError(std::string message) {
  return {ErrorCategory::kRejected, std::move(message)};
}
inline Status sourceLostError(std::string message) {
  return {ErrorCategory::kSourceLost, std::move(message)};
}
inline Status internalError(std::string message) {
  return {ErrorCategory::kInternal, std::move(message)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Status error) : v_(std::move(error)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).isOk() && "Result built from an ok Status");
  }

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const Status& error() const { return std::get<Status>(v_); }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error as a Status, or ok: lets a caller forward a failure without the value.
  Status status() const { return has_value() ? Status::ok() : error(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace smsbridge

// Returns early from a function returning Status or Result<U> when `expr` (a Status) failed.
#define SMSBRIDGE_RETURN_IF_ERROR(expr)   \
  do {                                    \
    ::smsbridge::Status status_ = (expr); \
    if (!status_.isOk()) return status_;  \
  } while (false)
