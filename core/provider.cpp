#include "core/provider.h"

namespace smsbridge {

std::string_view sendResultName(SendResultKind kind) {
  switch (kind) {
    case SendResultKind::kAccepted:
      return "accepted";
    case SendResultKind::kRetryLater:
      return "retry_later";
    case SendResultKind::kFailOver:
      return "fail_over";
    case SendResultKind::kRejected:
      return "rejected";
    case SendResultKind::kDuplicate:
      return "duplicate";
  }
  return "rejected";
}

}  // namespace smsbridge
