#include "core/change_event.h"

namespace smsbridge {

std::string_view opName(Op op) {
  switch (op) {
    case Op::kInsert:
      return "insert";
    case Op::kUpdate:
      return "update";
    case Op::kDelete:
      return "delete";
  }
  return "insert";
}

std::optional<Op> parseOp(std::string_view name) {
  if (name == "insert") return Op::kInsert;
  if (name == "update") return Op::kUpdate;
  if (name == "delete") return Op::kDelete;
  return std::nullopt;
}

}  // namespace smsbridge
