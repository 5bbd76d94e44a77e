#include "core/result.h"

namespace smsbridge {

std::string_view categoryName(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::kConfig:
      return "config";
    case ErrorCategory::kTransient:
      return "transient";
    case ErrorCategory::kProviderPermanent:
      return "provider_permanent";
    case ErrorCategory::kRejected:
      return "rejected";
    case ErrorCategory::kSourceLost:
      return "source_lost";
    case ErrorCategory::kInternal:
      return "internal";
  }
  return "internal";
}

std::string Status::toString() const {
  if (ok_) return "ok";
  return std::string(categoryName(category_)) + ": " + message_;
}

Status Status::withContext(std::string_view context) const {
  if (ok_) return *this;
  return Status(category_, std::string(context) + ": " + message_);
}

}  // namespace smsbridge
