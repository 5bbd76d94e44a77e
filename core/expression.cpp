#include "core/expression.h"

#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <limits>
#include <utility>

#include "core/clock.h"

// Pipeline: Lexer (on demand, so a host that stops early never sees errors past its stop) →
// Parser (syntax tree with source ranges, flat and/or chains, bounded nesting) → Checker
// (function table, arities, types decidable from literals) → Evaluator (tree walk over an
// EvalContext). New operators extend TokenKind/NodeKind; new functions are one row of
// kFunctions.

namespace smsbridge {

EvalContext::~EvalContext() = default;

std::chrono::system_clock::time_point EvalContext::now() const {
  return std::chrono::system_clock::now();
}

namespace {

// ---------------------------------------------------------------------------------------------
// Tokens

enum class TokenKind {
  kEnd,
  kError,  // the lexer already reported it; the parser stays quiet about it
  kIdentifier,
  kString,
  kNumber,
  kTrue,
  kFalse,
  kNull,
  kAnd,
  kOr,
  kNot,
  kIn,
  kIs,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kDot,
  kMinus,
  kPipe,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;      // decoded string literal contents; otherwise empty
  bool decimal = false;  // kNumber: has a fraction or exponent
};

struct Keyword {
  std::string_view word;
  TokenKind kind;
};
constexpr std::array<Keyword, 8> kKeywords = {{
    {"and", TokenKind::kAnd},
    {"or", TokenKind::kOr},
    {"not", TokenKind::kNot},
    {"in", TokenKind::kIn},
    {"is", TokenKind::kIs},
    {"true", TokenKind::kTrue},
    {"false", TokenKind::kFalse},
    {"null", TokenKind::kNull},
}};

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }
bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool isWordToken(TokenKind kind) {
  if (kind == TokenKind::kIdentifier) return true;
  return std::any_of(kKeywords.begin(), kKeywords.end(),
                     [kind](const Keyword& k) { return k.kind == kind; });
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string hexByte(unsigned char b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(b));
  return buf;
}

// Length of the well-formed UTF-8 sequence at `pos`, or 0. Diagnostics quote user text, and a
// broken sequence must not end up in logs as mojibake.
std::size_t utf8SequenceLength(std::string_view s, std::size_t pos) {
  const auto lead = static_cast<unsigned char>(s[pos]);
  std::size_t len = 0;
  if (lead < 0x80) {
    len = 1;
  } else if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4;
  } else {
    return 0;
  }
  if (pos + len > s.size()) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    if ((static_cast<unsigned char>(s[pos + i]) & 0xC0) != 0x80) return 0;
  }
  return len;
}

// A short, log-safe rendering of user text for messages.
std::string quoteClipped(std::string_view s) {
  constexpr std::size_t kMaxChars = 40;
  std::string out;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (chars == kMaxChars) {
      out += "...";
      break;
    }
    const std::size_t len = utf8SequenceLength(s, i);
    const auto b = static_cast<unsigned char>(s[i]);
    if (len == 0 || (len == 1 && (b < 0x20 || b == 0x7F))) {
      out += "\\x" + hexByte(b).substr(2);
      ++i;
    } else {
      out.append(s.substr(i, len));
      i += len;
    }
    ++chars;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Lexer

class Lexer {
 public:
  Lexer(std::string_view source, std::size_t begin, std::size_t end,
        std::vector<ExprDiagnostic>& diagnostics)
      : src_(source), pos_(begin), end_(end), diagnostics_(diagnostics) {}

  Token next() {
    while (pos_ < end_ && isSpace(src_[pos_])) ++pos_;
    Token t;
    t.begin = pos_;
    if (pos_ >= end_) {
      t.end = end_;
      return t;
    }
    const char c = src_[pos_];
    if (isIdentStart(c)) return lexWord();
    if (isDigit(c)) return lexNumber();
    if (c == '\'' || c == '"') return lexString();
    ++pos_;
    t.kind = lexOperator(c, t.begin);
    t.end = pos_;
    return t;
  }

 private:
  void report(std::size_t offset, std::string message) {
    diagnostics_.push_back({offset, std::move(message)});
  }

  bool take(char expected) {
    if (pos_ < end_ && src_[pos_] == expected) {
      ++pos_;
      return true;
    }
    return false;
  }

  Token lexWord() {
    Token t;
    t.begin = pos_;
    while (pos_ < end_ && isIdentChar(src_[pos_])) ++pos_;
    t.end = pos_;
    const std::string_view word = src_.substr(t.begin, t.end - t.begin);
    t.kind = TokenKind::kIdentifier;
    for (const Keyword& k : kKeywords) {
      if (k.word == word) t.kind = k.kind;
    }
    return t;
  }

  Token lexNumber() {
    Token t;
    t.kind = TokenKind::kNumber;
    t.begin = pos_;
    while (pos_ < end_ && isDigit(src_[pos_])) ++pos_;
    bool malformed = false;
    if (pos_ < end_ && src_[pos_] == '.') {
      ++pos_;
      t.decimal = true;
      if (pos_ < end_ && isDigit(src_[pos_])) {
        while (pos_ < end_ && isDigit(src_[pos_])) ++pos_;
      } else {
        malformed = true;
      }
    }
    if (pos_ < end_ && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      std::size_t q = pos_ + 1;
      if (q < end_ && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < end_ && isDigit(src_[q])) {
        t.decimal = true;
        pos_ = q;
        while (pos_ < end_ && isDigit(src_[pos_])) ++pos_;
      }
    }
    // "5abc" or "1.x" would otherwise split into a number and a name, and the parser would
    // then complain about the name, which is not where the mistake is.
    while (pos_ < end_ && (isIdentChar(src_[pos_]) || src_[pos_] == '.')) {
      malformed = true;
      ++pos_;
    }
    t.end = pos_;
    if (malformed) {
      report(t.begin, "'" + quoteClipped(src_.substr(t.begin, t.end - t.begin)) +
                          "' is not a number (write numbers like 12 or 4.50)");
      t.kind = TokenKind::kError;
    }
    return t;
  }

  Token lexString() {
    Token t;
    t.kind = TokenKind::kString;
    t.begin = pos_;
    const char quote = src_[pos_++];
    while (pos_ < end_) {
      const char c = src_[pos_];
      if (c == quote) {
        ++pos_;
        t.end = pos_;
        return t;
      }
      if (c != '\\') {
        t.text += c;
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= end_) {
        ++pos_;
        break;
      }
      const char e = src_[pos_ + 1];
      switch (e) {
        case '\\':
        case '\'':
        case '"':
          t.text += e;
          break;
        case 'n':
          t.text += '\n';
          break;
        case 't':
          t.text += '\t';
          break;
        case 'r':
          t.text += '\r';
          break;
        default:
          report(pos_, "unknown escape '\\" + quoteClipped(src_.substr(pos_ + 1, 1)) +
                           "' (known: \\\\ \\' \\\" \\n \\t \\r)");
          t.text += e;
      }
      pos_ += 2;
    }
    t.end = pos_;
    report(t.begin, std::string("unterminated string: missing the closing ") + quote);
    return t;
  }

  TokenKind lexOperator(char c, std::size_t at) {
    switch (c) {
      case '(':
        return TokenKind::kLParen;
      case ')':
        return TokenKind::kRParen;
      case '[':
        return TokenKind::kLBracket;
      case ']':
        return TokenKind::kRBracket;
      case ',':
        return TokenKind::kComma;
      case '.':
        return TokenKind::kDot;
      case '-':
        return TokenKind::kMinus;
      case '=':
        if (!take('=')) report(at, "use '==' to compare ('=' is not an operator)");
        return TokenKind::kEq;
      case '!':
        if (take('=')) return TokenKind::kNe;
        report(at, "use 'not' instead of '!'");
        return TokenKind::kNot;
      case '<':
        if (take('=')) return TokenKind::kLe;
        if (take('>')) {
          report(at, "use '!=' instead of '<>'");
          return TokenKind::kNe;
        }
        return TokenKind::kLt;
      case '>':
        return take('=') ? TokenKind::kGe : TokenKind::kGt;
      case '&':
        if (take('&')) {
          report(at, "use 'and' instead of '&&'");
          return TokenKind::kAnd;
        }
        break;
      case '|':
        if (take('|')) {
          report(at, "use 'or' instead of '||'");
          return TokenKind::kOr;
        }
        return TokenKind::kPipe;
      default:
        break;
    }
    // One diagnostic per character, not per byte of a multi-byte one.
    const std::size_t len = utf8SequenceLength(src_, at);
    const auto b = static_cast<unsigned char>(src_[at]);
    if (len > 1) {
      pos_ = at + len;
      report(at, "unexpected character '" + std::string(src_.substr(at, len)) + "'");
    } else if (len == 1 && b >= 0x20 && b != 0x7F) {
      report(at, "unexpected character '" + std::string(1, src_[at]) + "'");
    } else {
      report(at, "unexpected byte " + hexByte(b));
    }
    return TokenKind::kError;
  }

  std::string_view src_;
  std::size_t pos_;
  std::size_t end_;
  std::vector<ExprDiagnostic>& diagnostics_;
};

// ---------------------------------------------------------------------------------------------
// Syntax tree

enum class NodeKind {
  kInvalid,  // stands in for a part that failed to parse; the checker skips it
  kLiteral,
  kReference,
  kList,
  kNot,
  kAnd,
  kOr,
  kCompare,
  kIn,
  kIsNull,
  kMatches,
  kCall,
};

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

struct FunctionSpec;

struct ExprNode {
  NodeKind kind = NodeKind::kInvalid;
  std::size_t begin = 0;  // source range [begin, end), offsets into the host text
  std::size_t end = 0;
  Value literal;                           // kLiteral
  std::vector<std::string> path;           // kReference; kCall to changed/crossed_*: {"old", col}
  std::string name;                        // kReference: dotted path; kCall: function name
  CompareOp op = CompareOp::kEq;           // kCompare
  bool negated = false;                    // 'not in', 'not matches', 'is not null'
  const FunctionSpec* function = nullptr;  // kCall, resolved by the checker
  std::unique_ptr<const re2::RE2> regex;   // kMatches, compiled by the checker
  std::vector<std::unique_ptr<ExprNode>> children;
};

std::string_view compareSymbol(CompareOp op) {
  switch (op) {
    case CompareOp::kEq:
      return "==";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kGt:
      return ">";
    case CompareOp::kGe:
      return ">=";
  }
  return "?";
}

bool isOrdering(CompareOp op) { return op != CompareOp::kEq && op != CompareOp::kNe; }

std::unique_ptr<ExprNode> makeNode(NodeKind kind, std::size_t begin, std::size_t end) {
  auto node = std::make_unique<ExprNode>();
  node->kind = kind;
  node->begin = begin;
  node->end = end;
  return node;
}

// ---------------------------------------------------------------------------------------------
// Parser

class Parser {
 public:
  Parser(std::string_view source, std::size_t begin, std::size_t end,
         std::vector<ExprDiagnostic>& diagnostics)
      : src_(source), lexer_(source, begin, end, diagnostics), diagnostics_(diagnostics) {}

  std::unique_ptr<ExprNode> parseExpression() { return parseOr(); }

  const Token& peek(std::size_t ahead = 0) {
    while (buffer_.size() <= ahead) buffer_.push_back(lexer_.next());
    return buffer_[ahead];
  }

  bool aborted() const { return aborted_; }

  // Reports whatever follows a complete top-level expression.
  void reportTrailing() {
    const Token& t = peek();
    if (t.kind == TokenKind::kEnd) return;
    if (t.kind == TokenKind::kPipe) {
      syntaxError(t.begin, "filters ('|') are only allowed in templates");
    } else if (const auto hint = keywordHint(t)) {
      syntaxError(t.begin, *hint);
    } else {
      syntaxError(t.begin, "unexpected " + describe(t) + "; expected 'and', 'or' or the end");
    }
  }

 private:
  // Entering a parenthesis, bracket, call or 'not'. Bounding this bounds the depth of the
  // tree, and with it every recursion over it (checker, evaluator, destructor).
  class Nesting {
   public:
    Nesting(Parser& parser, std::size_t at) : parser_(parser) {
      if (++parser_.depth_ > kMaxExpressionNesting && !parser_.aborted_) {
        parser_.diagnostics_.push_back(
            {at, "expression is nested too deeply (more than " +
                     std::to_string(kMaxExpressionNesting) +
                     " levels of parentheses, brackets, calls or 'not')"});
        parser_.aborted_ = true;
      }
    }
    ~Nesting() { --parser_.depth_; }
    Nesting(const Nesting&) = delete;
    Nesting& operator=(const Nesting&) = delete;

   private:
    Parser& parser_;
  };

  Token take() {
    peek();
    Token t = std::move(buffer_.front());
    buffer_.pop_front();
    prev_end_ = t.end;
    switch (t.kind) {
      case TokenKind::kComma:
      case TokenKind::kAnd:
      case TokenKind::kOr:
      case TokenKind::kRParen:
      case TokenKind::kRBracket:
        synced_ = true;  // a fresh start: the next mistake is a new one, worth reporting
        break;
      default:
        break;
    }
    return t;
  }

  // After one syntax error the following tokens often look wrong too; only the first mistake
  // between two separators is reported. Tokens the lexer already complained about stay quiet.
  void syntaxError(std::size_t offset, std::string message) {
    if (aborted_) return;
    const Token& t = peek();
    const bool lexer_reported = t.kind == TokenKind::kError && t.begin == offset;
    if (synced_ && !lexer_reported) diagnostics_.push_back({offset, std::move(message)});
    synced_ = false;
  }

  std::string describe(const Token& t) const {
    const std::string_view text = src_.substr(t.begin, t.end - t.begin);
    switch (t.kind) {
      case TokenKind::kEnd:
        return "the end of the expression";
      case TokenKind::kString:
        return "the string " + quoteClipped(text);
      case TokenKind::kNumber:
        return "the number " + quoteClipped(text);
      default:
        return "'" + quoteClipped(text) + "'";
    }
  }

  // Writers coming from SQL type AND / NULL; say so instead of "unexpected 'AND'".
  std::optional<std::string> keywordHint(const Token& t) const {
    if (t.kind != TokenKind::kIdentifier) return std::nullopt;
    const std::string_view text = src_.substr(t.begin, t.end - t.begin);
    const std::string lower = asciiLower(text);
    for (const Keyword& k : kKeywords) {
      if (k.word == lower) {
        return "keywords are lowercase: write '" + lower + "' instead of '" + std::string(text) +
               "'";
      }
    }
    return std::nullopt;
  }

  std::unique_ptr<ExprNode> invalidAt(std::size_t offset) {
    return makeNode(NodeKind::kInvalid, offset, offset);
  }

  std::unique_ptr<ExprNode> parseOr() { return parseChain(TokenKind::kOr, NodeKind::kOr); }
  std::unique_ptr<ExprNode> parseAnd() { return parseChain(TokenKind::kAnd, NodeKind::kAnd); }

  // and/or chains become one flat node, so `a and b and ... and z` has depth 1 however long.
  std::unique_ptr<ExprNode> parseChain(TokenKind op, NodeKind kind) {
    auto first = kind == NodeKind::kOr ? parseAnd() : parseNot();
    if (aborted_ || peek().kind != op) return first;
    auto chain = makeNode(kind, first->begin, first->end);
    chain->children.push_back(std::move(first));
    while (!aborted_ && peek().kind == op) {
      take();
      chain->children.push_back(kind == NodeKind::kOr ? parseAnd() : parseNot());
    }
    chain->end = prev_end_;
    return chain;
  }

  std::unique_ptr<ExprNode> parseNot() {
    if (aborted_) return invalidAt(peek().begin);
    if (peek().kind != TokenKind::kNot) return parseComparison();
    const Token op = take();
    Nesting nesting(*this, op.begin);
    if (aborted_) return invalidAt(op.begin);
    auto node = makeNode(NodeKind::kNot, op.begin, op.end);
    node->children.push_back(parseNot());
    node->end = prev_end_;
    return node;
  }

  // `matches` is a keyword only here, after a value, so columns named "matches" keep working.
  bool isMatches(const Token& t) const {
    return t.kind == TokenKind::kIdentifier && src_.substr(t.begin, t.end - t.begin) == "matches";
  }

  bool atComparison() {
    if (isMatches(peek())) return true;
    switch (peek().kind) {
      case TokenKind::kEq:
      case TokenKind::kNe:
      case TokenKind::kLt:
      case TokenKind::kLe:
      case TokenKind::kGt:
      case TokenKind::kGe:
      case TokenKind::kIn:
      case TokenKind::kIs:
        return true;
      case TokenKind::kNot:
        return peek(1).kind == TokenKind::kIn || isMatches(peek(1));
      default:
        return false;
    }
  }

  std::unique_ptr<ExprNode> parseComparison() {
    auto node = parseComparisonTail(parsePrimary());
    // `a < b < c` reads like maths but would compare a boolean with c. The rest is parsed
    // (to consume it) and dropped, which also keeps the tree shallow.
    while (!aborted_ && node->kind != NodeKind::kInvalid && atComparison()) {
      syntaxError(peek().begin, "comparisons cannot be chained; combine them with 'and'");
      parseComparisonTail(invalidAt(peek().begin));
    }
    return node;
  }

  std::unique_ptr<ExprNode> parseComparisonTail(std::unique_ptr<ExprNode> lhs) {
    if (aborted_) return lhs;
    const std::size_t begin = lhs->begin;
    const TokenKind kind = peek().kind;
    std::unique_ptr<ExprNode> node;
    if (isMatches(peek()) || (kind == TokenKind::kNot && isMatches(peek(1)))) {
      if (kind == TokenKind::kNot) take();
      take();
      node = makeNode(NodeKind::kMatches, begin, begin);
      node->negated = kind == TokenKind::kNot;
      node->children.push_back(std::move(lhs));
      node->children.push_back(parsePrimary());
      node->end = prev_end_;
      return node;
    }
    switch (kind) {
      case TokenKind::kEq:
      case TokenKind::kNe:
      case TokenKind::kLt:
      case TokenKind::kLe:
      case TokenKind::kGt:
      case TokenKind::kGe: {
        take();
        node = makeNode(NodeKind::kCompare, begin, begin);
        node->op = kind == TokenKind::kEq   ? CompareOp::kEq
                   : kind == TokenKind::kNe ? CompareOp::kNe
                   : kind == TokenKind::kLt ? CompareOp::kLt
                   : kind == TokenKind::kLe ? CompareOp::kLe
                   : kind == TokenKind::kGt ? CompareOp::kGt
                                            : CompareOp::kGe;
        node->children.push_back(std::move(lhs));
        node->children.push_back(parsePrimary());
        break;
      }
      case TokenKind::kNot:
        if (peek(1).kind != TokenKind::kIn) {
          syntaxError(peek().begin, "'not' after a value must be followed by 'in' or 'matches'");
          take();
          return lhs;
        }
        take();
        [[fallthrough]];
      case TokenKind::kIn: {
        take();
        node = makeNode(NodeKind::kIn, begin, begin);
        node->negated = kind == TokenKind::kNot;
        node->children.push_back(std::move(lhs));
        node->children.push_back(parsePrimary());
        break;
      }
      case TokenKind::kIs: {
        take();
        node = makeNode(NodeKind::kIsNull, begin, begin);
        if (peek().kind == TokenKind::kNot) {
          take();
          node->negated = true;
        }
        if (peek().kind == TokenKind::kNull) {
          take();
        } else {
          syntaxError(peek().begin, "expected 'null' after '" +
                                        std::string(node->negated ? "is not" : "is") + "', got " +
                                        describe(peek()));
        }
        node->children.push_back(std::move(lhs));
        break;
      }
      default:
        return lhs;
    }
    node->end = prev_end_;
    return node;
  }

  std::unique_ptr<ExprNode> parsePrimary() {
    if (aborted_) return invalidAt(peek().begin);
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::kString: {
        Token s = take();
        auto node = makeNode(NodeKind::kLiteral, s.begin, s.end);
        node->literal = Value(std::move(s.text));
        return node;
      }
      case TokenKind::kNumber:
        return parseNumber(false, t.begin);
      case TokenKind::kMinus: {
        const Token minus = take();
        if (peek().kind == TokenKind::kNumber) return parseNumber(true, minus.begin);
        syntaxError(minus.begin, "'-' must be followed by a number (there is no arithmetic)");
        return invalidAt(minus.begin);
      }
      case TokenKind::kTrue:
      case TokenKind::kFalse:
      case TokenKind::kNull: {
        const Token k = take();
        auto node = makeNode(NodeKind::kLiteral, k.begin, k.end);
        if (k.kind != TokenKind::kNull) node->literal = Value(k.kind == TokenKind::kTrue);
        return node;
      }
      case TokenKind::kIdentifier:
        return parsePathOrCall();
      case TokenKind::kLParen: {
        const Token open = take();
        Nesting nesting(*this, open.begin);
        if (aborted_) return invalidAt(open.begin);
        auto inner = parseExpression();
        if (peek().kind == TokenKind::kRParen) {
          take();
        } else {
          syntaxError(peek().begin, "expected ')' to match the '(', got " + describe(peek()));
        }
        return inner;
      }
      case TokenKind::kLBracket: {
        const Token open = take();
        Nesting nesting(*this, open.begin);
        if (aborted_) return invalidAt(open.begin);
        auto list = makeNode(NodeKind::kList, open.begin, open.end);
        list->children = parseItems(TokenKind::kRBracket, "']'");
        list->end = prev_end_;
        return list;
      }
      case TokenKind::kError: {
        const Token bad = take();
        synced_ = false;
        return invalidAt(bad.begin);
      }
      default: {
        const Token bad = t;  // copied: take() below invalidates t
        syntaxError(bad.begin, "expected a value, got " + describe(bad));
        // Separators and closers are left for the enclosing rule, which resynchronises on
        // them; anything else is skipped so parsing makes progress.
        switch (bad.kind) {
          case TokenKind::kEnd:
          case TokenKind::kComma:
          case TokenKind::kRParen:
          case TokenKind::kRBracket:
          case TokenKind::kAnd:
          case TokenKind::kOr:
          case TokenKind::kPipe:
            break;
          default:
            take();
        }
        return invalidAt(bad.begin);
      }
    }
  }

  std::unique_ptr<ExprNode> parseNumber(bool negative, std::size_t begin) {
    const Token n = take();
    auto node = makeNode(NodeKind::kLiteral, begin, n.end);
    std::string digits = negative ? "-" : "";
    digits.append(src_.substr(n.begin, n.end - n.begin));
    const char* first = digits.data();
    const char* last = digits.data() + digits.size();
    if (n.decimal) {
      double value = 0;
      const auto [ptr, ec] = std::from_chars(first, last, value);
      if (ec != std::errc() || ptr != last || !std::isfinite(value)) {
        diagnostics_.push_back({begin, "number " + digits + " is out of range"});
      }
      node->literal = Value(value);
    } else {
      std::int64_t value = 0;
      const auto [ptr, ec] = std::from_chars(first, last, value);
      if (ec != std::errc() || ptr != last) {
        diagnostics_.push_back({begin, "integer " + digits + " is out of range"});
      }
      node->literal = Value(value);
    }
    return node;
  }

  std::unique_ptr<ExprNode> parsePathOrCall() {
    const Token first = take();
    auto node = makeNode(NodeKind::kReference, first.begin, first.end);
    node->path.emplace_back(src_.substr(first.begin, first.end - first.begin));
    // Keywords are allowed after a dot: `old.is` can only mean a column.
    while (peek().kind == TokenKind::kDot) {
      take();
      if (!isWordToken(peek().kind)) {
        syntaxError(peek().begin, "expected a field name after '.', got " + describe(peek()));
        return invalidAt(first.begin);
      }
      const Token segment = take();
      node->path.emplace_back(src_.substr(segment.begin, segment.end - segment.begin));
    }
    for (const std::string& segment : node->path) {
      if (!node->name.empty()) node->name += '.';
      node->name += segment;
    }
    if (peek().kind == TokenKind::kLParen) {
      const Token open = take();
      Nesting nesting(*this, open.begin);
      if (aborted_) return invalidAt(open.begin);
      node->kind = NodeKind::kCall;
      node->path.clear();
      node->children = parseItems(TokenKind::kRParen, "')'");
    } else if (node->path.size() == 1) {
      if (auto hint = keywordHint(first)) {
        syntaxError(first.begin, *hint);
        return invalidAt(first.begin);
      }
    }
    node->end = prev_end_;
    return node;
  }

  // Comma-separated expressions up to `closer` (the opener is already taken); a trailing
  // comma is allowed. A broken item skips to the next comma or the closer.
  std::vector<std::unique_ptr<ExprNode>> parseItems(TokenKind closer, std::string_view name) {
    std::vector<std::unique_ptr<ExprNode>> items;
    if (peek().kind == closer) {
      take();
      return items;
    }
    while (!aborted_) {
      items.push_back(parseExpression());
      if (aborted_) break;
      if (peek().kind == TokenKind::kComma) {
        take();
        if (peek().kind == closer) {
          take();
          break;
        }
        continue;
      }
      if (peek().kind == closer) {
        take();
        break;
      }
      syntaxError(peek().begin,
                  "expected ',' or " + std::string(name) + ", got " + describe(peek()));
      if (!skipToSeparator(closer)) break;
    }
    return items;
  }

  // Skips to the next comma or `closer` at this level. Returns true when it was a comma
  // (another item follows), false at the closer (consumed) or at the end.
  bool skipToSeparator(TokenKind closer) {
    int level = 0;
    while (true) {
      const TokenKind kind = peek().kind;
      if (kind == TokenKind::kEnd) return false;
      if (level == 0 && kind == TokenKind::kComma) {
        take();
        return true;
      }
      if (level == 0 && kind == closer) {
        take();
        return false;
      }
      if (kind == TokenKind::kLParen || kind == TokenKind::kLBracket) ++level;
      if ((kind == TokenKind::kRParen || kind == TokenKind::kRBracket) && level > 0) --level;
      take();
    }
  }

  std::string_view src_;
  Lexer lexer_;
  std::vector<ExprDiagnostic>& diagnostics_;
  std::deque<Token> buffer_;
  std::size_t prev_end_ = 0;
  int depth_ = 0;
  bool aborted_ = false;
  bool synced_ = true;
};

// ---------------------------------------------------------------------------------------------
// Values at run time

bool truthy(const Value& v) {
  if (v.isBool()) return v.asBool();
  if (v.isInt()) return v.asInt() != 0;
  if (v.isDouble()) return v.asDouble() != 0;
  if (v.isString()) return !v.asString().empty();
  return false;  // null
}

// How a text column spells a boolean (MySQL and SQLite have none; PostgreSQL text is t/f).
std::optional<bool> boolFromText(const std::string& s) {
  const std::string lower = asciiLower(s);
  if (lower == "true" || lower == "t" || lower == "1") return true;
  if (lower == "false" || lower == "f" || lower == "0") return false;
  return std::nullopt;
}

bool valuesEqual(const Value& a, const Value& b) {
  if (a.isNull() || b.isNull()) return a.isNull() && b.isNull();
  if (a.isBool() && b.isBool()) return a.asBool() == b.asBool();
  if (a.isBool() || b.isBool()) {
    const Value& flag = a.isBool() ? a : b;
    const Value& other = a.isBool() ? b : a;
    if (other.isNumber()) return other.asDouble() == (flag.asBool() ? 1.0 : 0.0);
    if (other.isString()) return boolFromText(other.asString()) == flag.asBool();
    return false;
  }
  if (a.isInt() && b.isInt()) return a.asInt() == b.asInt();
  if (a.isNumber() && b.isNumber()) return a.asDouble() == b.asDouble();
  if (a.isNumber() || b.isNumber()) {
    const Value& text = a.isNumber() ? b : a;
    const Value& number = a.isNumber() ? a : b;
    const auto parsed = text.toNumber();
    return parsed && *parsed == number.asDouble();
  }
  if (a.isString() && b.isString()) return a.asString() == b.asString();
  return false;
}

template <typename T>
bool orderHolds(const T& a, const T& b, CompareOp op) {
  switch (op) {
    case CompareOp::kLt:
      return a < b;
    case CompareOp::kLe:
      return a <= b;
    case CompareOp::kGt:
      return a > b;
    case CompareOp::kGe:
      return a >= b;
    default:
      return false;
  }
}

// "stock ('abc')" or just "5" when the source text already says it.
std::string describeOperand(std::string_view source, const Value& value) {
  const std::string shown = quoteClipped(value.toDebugString());
  if (source.empty() || source == shown) return shown;
  return quoteClipped(source) + " (" + shown + ")";
}

Result<bool> compareValues(const Value& a, std::string_view a_source, const Value& b,
                           std::string_view b_source, CompareOp op) {
  if (!isOrdering(op)) {
    const bool equal = valuesEqual(a, b);
    return op == CompareOp::kEq ? equal : !equal;
  }
  if (a.isNull() || b.isNull()) return false;
  const auto fail = [&](std::string_view why) -> Result<bool> {
    return rejectedError("cannot compare " + describeOperand(a_source, a) + " with " +
                         describeOperand(b_source, b) + " using '" +
                         std::string(compareSymbol(op)) + "': " + std::string(why));
  };
  if (a.isBool() || b.isBool()) return fail("booleans have no order");
  if (a.isInt() && b.isInt()) return orderHolds(a.asInt(), b.asInt(), op);
  // Numeric text orders as a number even against other text: "10" > "9" as users mean it.
  const auto an = a.toNumber();
  const auto bn = b.toNumber();
  if (an && bn) return orderHolds(*an, *bn, op);
  if (a.isString() && b.isString()) return orderHolds(a.asString(), b.asString(), op);
  return fail("not a number");
}

// ---------------------------------------------------------------------------------------------
// Functions

enum class StaticType { kAny, kNull, kBool, kNumber, kString, kList };

class Checker;
class Evaluator;

struct FunctionSpec {
  std::string_view name;
  std::size_t min_args;
  std::size_t max_args;
  // The first argument names a column whose before-image (old.<col>) is read as well.
  bool reads_old_column;
  // Reads EvalContext::now(), so the call is never constant.
  bool reads_clock;
  // Extra compile-time checks beyond arity; the arguments are already checked.
  void (*check)(Checker& checker, ExprNode& call, std::span<const StaticType> arg_types);
  StaticType (*result_type)(std::span<const StaticType> arg_types);
  Result<Value> (*evaluate)(Evaluator& evaluator, const ExprNode& call);
};

class Evaluator {
 public:
  Evaluator(const EvalContext& context, std::string_view text, std::size_t base,
            bool missing_as_null, std::string_view field_noun)
      : context_(context),
        text_(text),
        base_(base),
        missing_as_null_(missing_as_null),
        field_noun_(field_noun) {}

  Result<Value> evaluate(const ExprNode& node) {
    switch (node.kind) {
      case NodeKind::kLiteral:
        return node.literal;
      case NodeKind::kReference:
        return read(node.path, node.name);
      case NodeKind::kNot: {
        auto v = condition(*node.children[0]);
        if (!v) return v.error();
        return Value(!*v);
      }
      case NodeKind::kAnd:
      case NodeKind::kOr: {
        const bool is_or = node.kind == NodeKind::kOr;
        for (const auto& child : node.children) {
          auto v = condition(*child);
          if (!v) return v.error();
          if (*v == is_or) return Value(is_or);
        }
        return Value(!is_or);
      }
      case NodeKind::kCompare: {
        auto a = evaluate(*node.children[0]);
        if (!a) return a;
        auto b = evaluate(*node.children[1]);
        if (!b) return b;
        auto r = compareValues(*a, slice(*node.children[0]), *b, slice(*node.children[1]), node.op);
        if (!r) return r.error();
        return Value(*r);
      }
      case NodeKind::kIn: {
        auto needle = evaluate(*node.children[0]);
        if (!needle) return needle;
        const ExprNode& list = *node.children[1];
        if (list.kind != NodeKind::kList) return internalError("'in' without a list");
        for (const auto& item : list.children) {
          auto v = evaluate(*item);
          if (!v) return v;
          if (valuesEqual(*needle, *v)) return Value(!node.negated);
        }
        return Value(node.negated);
      }
      case NodeKind::kIsNull: {
        auto v = evaluate(*node.children[0]);
        if (!v) return v;
        return Value(v->isNull() != node.negated);
      }
      case NodeKind::kMatches: {
        auto v = evaluate(*node.children[0]);
        if (!v) return v;
        if (node.regex == nullptr) return internalError("'matches' without a compiled pattern");
        if (v->isNull()) return Value(node.negated);
        return Value(re2::RE2::PartialMatch(v->toText(), *node.regex) != node.negated);
      }
      case NodeKind::kCall:
        if (node.function == nullptr) return internalError("call to an unchecked function");
        return node.function->evaluate(*this, node);
      case NodeKind::kList:
      case NodeKind::kInvalid:
        break;
    }
    return internalError("expression node cannot be evaluated");
  }

  Result<bool> condition(const ExprNode& node) {
    auto v = evaluate(node);
    if (!v) return v.error();
    return truthy(*v);
  }

  // A field as an operand: it must exist (unless missing_as_null) and must have been sent.
  Result<Value> read(std::span<const std::string> path, const std::string& dotted) {
    const Value* v = context_.resolve(path);
    if (v == nullptr) {
      if (missing_as_null_) return Value();
      return missing(dotted);
    }
    if (v->isUnavailable()) return unavailable(dotted);
    return *v;
  }

  Status missing(std::string_view dotted) const {
    return rejectedError(std::string(field_noun_) + " '" + std::string(dotted) +
                         "' does not exist");
  }
  Status unavailable(std::string_view dotted) const {
    return rejectedError(std::string(field_noun_) + " '" + std::string(dotted) +
                         "' is unavailable (not sent by the source)");
  }

  const EvalContext& context() const { return context_; }
  bool missingAsNull() const { return missing_as_null_; }
  // The source text of a node, to name operands in messages.
  std::string_view slice(const ExprNode& node) const {
    if (node.begin < base_ || node.begin - base_ > text_.size()) return {};
    return text_.substr(node.begin - base_, node.end - node.begin);
  }

 private:
  const EvalContext& context_;
  std::string_view text_;
  std::size_t base_;
  bool missing_as_null_;
  std::string_view field_noun_;
};

// The current and previous value of the column a change function watches. `now` is null when
// the column's current value was not sent (it did not change), `before` when there is no
// before-image; either ends the function with false.
struct ColumnChange {
  const Value* now = nullptr;
  const Value* before = nullptr;
};

Result<ColumnChange> readChange(Evaluator& evaluator, const ExprNode& call) {
  const ExprNode& column = *call.children[0];
  ColumnChange change;
  change.now = evaluator.context().resolve(column.path);
  if (change.now == nullptr) {
    if (evaluator.missingAsNull()) return change;
    return evaluator.missing(column.name);
  }
  if (change.now->isUnavailable()) {
    change.now = nullptr;
    return change;
  }
  change.before = evaluator.context().resolve(call.path);
  if (change.before != nullptr && change.before->isUnavailable()) {
    return evaluator.unavailable("old." + column.name);
  }
  return change;
}

Result<Value> evaluateChanged(Evaluator& evaluator, const ExprNode& call) {
  auto change = readChange(evaluator, call);
  if (!change) return change.error();
  if (change->now == nullptr || change->before == nullptr) return Value(false);
  return Value(!valuesEqual(*change->now, *change->before));
}

Result<Value> evaluateCrossed(Evaluator& evaluator, const ExprNode& call, CompareOp before_op,
                              CompareOp now_op) {
  auto change = readChange(evaluator, call);
  if (!change) return change.error();
  if (change->now == nullptr || change->before == nullptr) return Value(false);
  auto threshold = evaluator.evaluate(*call.children[1]);
  if (!threshold) return threshold;
  const std::string& column = call.children[0]->name;
  const std::string_view threshold_source = evaluator.slice(*call.children[1]);
  auto was =
      compareValues(*change->before, "old." + column, *threshold, threshold_source, before_op);
  if (!was) return was.error();
  if (!*was) return Value(false);
  auto is = compareValues(*change->now, column, *threshold, threshold_source, now_op);
  if (!is) return is.error();
  return Value(*is);
}

Result<Value> evaluateCoalesce(Evaluator& evaluator, const ExprNode& call) {
  for (const auto& arg : call.children) {
    auto v = evaluator.evaluate(*arg);
    if (!v || !v->isNull()) return v;
  }
  return Value();
}

// The form every store writes (core/clock.h), so comparisons with stored times are textual.
Result<Value> evaluateNow(Evaluator& evaluator, const ExprNode&) {
  return Value(formatTimestamp(evaluator.context().now()));
}

StaticType boolType(std::span<const StaticType>) { return StaticType::kBool; }
StaticType stringType(std::span<const StaticType>) { return StaticType::kString; }

StaticType commonType(std::span<const StaticType> types) {
  StaticType common = StaticType::kNull;
  for (StaticType t : types) {
    if (t == StaticType::kNull) continue;
    if (common == StaticType::kNull) {
      common = t;
    } else if (common != t) {
      return StaticType::kAny;
    }
  }
  return common;
}

void checkColumnArgument(Checker& checker, ExprNode& call, std::span<const StaticType>);
void checkThresholdArgument(Checker& checker, ExprNode& call, std::span<const StaticType> types);
void checkCrossed(Checker& checker, ExprNode& call, std::span<const StaticType> types) {
  checkColumnArgument(checker, call, types);
  checkThresholdArgument(checker, call, types);
}
void checkNothing(Checker&, ExprNode&, std::span<const StaticType>) {}

constexpr std::size_t kUnbounded = std::numeric_limits<std::size_t>::max();

const std::array<FunctionSpec, 5> kFunctions = {{
    {"changed", 1, 1, true, false, checkColumnArgument, boolType, evaluateChanged},
    {"coalesce", 2, kUnbounded, false, false, checkNothing, commonType, evaluateCoalesce},
    {"crossed_above", 2, 2, true, false, checkCrossed, boolType,
     [](Evaluator& e, const ExprNode& call) {
       return evaluateCrossed(e, call, CompareOp::kLe, CompareOp::kGt);
     }},
    {"crossed_below", 2, 2, true, false, checkCrossed, boolType,
     [](Evaluator& e, const ExprNode& call) {
       return evaluateCrossed(e, call, CompareOp::kGe, CompareOp::kLt);
     }},
    {"now", 0, 0, false, true, checkNothing, stringType, evaluateNow},
}};

std::string knownFunctionNames() {
  std::string names;
  for (const FunctionSpec& f : kFunctions) {
    if (!names.empty()) names += ", ";
    names += f.name;
  }
  return names;
}

std::string argumentCount(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " argument" : " arguments");
}

// ---------------------------------------------------------------------------------------------
// Checker: what can be decided before any row arrives.

class Checker {
 public:
  Checker(std::vector<ExprDiagnostic>& diagnostics, const std::string_view source)
      : diagnostics_(diagnostics), src_(source) {}

  void report(std::size_t offset, std::string message) {
    diagnostics_.push_back({offset, std::move(message)});
  }

  std::string_view slice(const ExprNode& node) const {
    return src_.substr(node.begin, node.end - node.begin);
  }

  StaticType check(ExprNode& node) {
    switch (node.kind) {
      case NodeKind::kInvalid:
      case NodeKind::kReference:
        return StaticType::kAny;
      case NodeKind::kLiteral:
        return literalType(node.literal);
      case NodeKind::kList:
        report(node.begin, "a list is only allowed after 'in' or 'not in'");
        return StaticType::kList;
      case NodeKind::kNot:
        checkCondition(*node.children[0], "not");
        return StaticType::kBool;
      case NodeKind::kAnd:
      case NodeKind::kOr:
        for (auto& child : node.children) {
          checkCondition(*child, node.kind == NodeKind::kAnd ? "and" : "or");
        }
        return StaticType::kBool;
      case NodeKind::kCompare:
        checkCompare(node);
        return StaticType::kBool;
      case NodeKind::kIn:
        checkIn(node);
        return StaticType::kBool;
      case NodeKind::kIsNull:
        check(*node.children[0]);
        return StaticType::kBool;
      case NodeKind::kMatches:
        checkMatches(node);
        return StaticType::kBool;
      case NodeKind::kCall:
        return checkCall(node);
    }
    return StaticType::kAny;
  }

  static bool isNonNumericText(const ExprNode& node) {
    return node.kind == NodeKind::kLiteral && node.literal.isString() &&
           !node.literal.toNumber().has_value();
  }

 private:
  static StaticType literalType(const Value& v) {
    if (v.isNull()) return StaticType::kNull;
    if (v.isBool()) return StaticType::kBool;
    if (v.isNumber()) return StaticType::kNumber;
    return StaticType::kString;
  }

  // A literal where a condition belongs is constant, almost always a slip such as
  // `status == 'a' or 'b'` (which would be always true).
  void checkCondition(ExprNode& node, std::string_view op) {
    check(node);
    if (node.kind != NodeKind::kLiteral || node.literal.isBool()) return;
    std::string got = node.literal.isNull()     ? "null"
                      : node.literal.isString() ? "the string " + quoteClipped(slice(node))
                                                : "the number " + quoteClipped(slice(node));
    std::string message = "'" + std::string(op) + "' expects a condition, got " + got;
    if (op == "or" && node.literal.isString()) {
      message += "; to match one of several values write: field in ['a', 'b']";
    }
    report(node.begin, std::move(message));
  }

  void checkCompare(ExprNode& node) {
    ExprNode& lhs = *node.children[0];
    ExprNode& rhs = *node.children[1];
    const StaticType lt = check(lhs);
    const StaticType rt = check(rhs);
    const std::string op(compareSymbol(node.op));
    if (isOrdering(node.op)) {
      for (const ExprNode* side : {&lhs, &rhs}) {
        const StaticType t = side == &lhs ? lt : rt;
        if (t == StaticType::kBool) {
          report(side->begin, "'" + op + "' cannot order booleans");
        } else if (t == StaticType::kNull && side->kind == NodeKind::kLiteral) {
          report(side->begin,
                 "'" + op + "' with null is always false; use 'is null' or 'is not null'");
        }
      }
      if (lt == StaticType::kNumber && isNonNumericText(rhs)) {
        report(rhs.begin, "cannot compare a number with the string " + quoteClipped(slice(rhs)) +
                              " using '" + op + "'");
      } else if (rt == StaticType::kNumber && isNonNumericText(lhs)) {
        report(lhs.begin, "cannot compare the string " + quoteClipped(slice(lhs)) +
                              " with a number using '" + op + "'");
      }
      return;
    }
    const bool text_vs_number = (lt == StaticType::kNumber && isNonNumericText(rhs)) ||
                                (rt == StaticType::kNumber && isNonNumericText(lhs));
    if (text_vs_number) {
      const ExprNode& text = isNonNumericText(rhs) ? rhs : lhs;
      report(text.begin, "comparing a number with the string " + quoteClipped(slice(text)) +
                             " using '" + op + "' is always " +
                             (node.op == CompareOp::kEq ? "false" : "true"));
    }
  }

  void checkIn(ExprNode& node) {
    check(*node.children[0]);
    ExprNode& list = *node.children[1];
    const std::string op = node.negated ? "not in" : "in";
    if (list.kind == NodeKind::kList) {
      for (auto& item : list.children) check(*item);
    } else if (list.kind != NodeKind::kInvalid) {
      check(list);
      report(list.begin,
             "'" + op + "' needs a list in brackets, like: status " + op + " ['a', 'b']");
    }
  }

  void checkMatches(ExprNode& node) {
    check(*node.children[0]);
    ExprNode& pattern = *node.children[1];
    if (pattern.kind == NodeKind::kInvalid) return;
    const std::string op = node.negated ? "not matches" : "matches";
    if (pattern.kind != NodeKind::kLiteral || !pattern.literal.isString()) {
      check(pattern);
      report(pattern.begin, "'" + op + "' needs the pattern as a string literal, like: phone " +
                                op + " '^\\\\+48' (patterns are compiled when the config loads)");
      return;
    }
    re2::RE2::Options options;
    options.set_log_errors(false);  // the diagnostic says it; RE2 would also print to stderr
    auto regex = std::make_unique<const re2::RE2>(pattern.literal.asString(), options);
    if (!regex->ok()) {
      report(patternOffset(pattern, regex->error_arg()),
             "invalid regular expression " + quoteClipped(slice(pattern)) + ": " + regex->error());
      return;
    }
    node.regex = std::move(regex);
  }

  // Where `fragment` (the part of the pattern RE2 complains about) is in the source: the
  // literal's escapes make decoded and source offsets differ, so the source is walked.
  std::size_t patternOffset(const ExprNode& pattern, const std::string& fragment) const {
    const std::size_t at =
        fragment.empty() ? std::string::npos : pattern.literal.asString().find(fragment);
    if (at == std::string::npos) return pattern.begin;
    std::size_t source = pattern.begin + 1;  // past the opening quote
    for (std::size_t decoded = 0; decoded < at && source < pattern.end; ++decoded) {
      source += src_[source] == '\\' ? 2 : 1;
    }
    return std::min(source, pattern.end);
  }

  StaticType checkCall(ExprNode& node) {
    std::vector<StaticType> types;
    types.reserve(node.children.size());
    for (auto& arg : node.children) types.push_back(check(*arg));
    const FunctionSpec* spec = nullptr;
    for (const FunctionSpec& f : kFunctions) {
      if (f.name == node.name) spec = &f;
    }
    if (spec == nullptr) {
      report(node.begin, "unknown function '" + quoteClipped(node.name) +
                             "' (known functions: " + knownFunctionNames() + ")");
      return StaticType::kAny;
    }
    const std::size_t n = node.children.size();
    if (n < spec->min_args || n > spec->max_args) {
      std::string expected = spec->min_args == spec->max_args ? argumentCount(spec->min_args)
                             : spec->max_args == kUnbounded
                                 ? "at least " + argumentCount(spec->min_args)
                                 : std::to_string(spec->min_args) + " to " +
                                       std::to_string(spec->max_args) + " arguments";
      report(node.begin,
             "'" + std::string(spec->name) + "' takes " + expected + ", got " + std::to_string(n));
      return spec->result_type(types);
    }
    node.function = spec;
    spec->check(*this, node, types);
    return spec->result_type(types);
  }

  std::vector<ExprDiagnostic>& diagnostics_;
  std::string_view src_;
};

void checkColumnArgument(Checker& checker, ExprNode& call, std::span<const StaticType>) {
  const ExprNode& column = *call.children[0];
  if (column.kind == NodeKind::kInvalid) return;
  if (column.kind != NodeKind::kReference || column.path.size() != 1 || column.name == "old") {
    checker.report(column.begin, "the first argument of '" + call.name +
                                     "' must be a column name, like: " + call.name + "(status)");
    return;
  }
  call.path = {"old", column.name};
}

void checkThresholdArgument(Checker& checker, ExprNode& call, std::span<const StaticType> types) {
  const ExprNode& threshold = *call.children[1];
  const StaticType t = types[1];
  if (t == StaticType::kBool || t == StaticType::kNull || t == StaticType::kList ||
      Checker::isNonNumericText(threshold)) {
    checker.report(threshold.begin, "the threshold of '" + call.name + "' must be a number, got " +
                                        quoteClipped(checker.slice(threshold)));
  }
}

void collectFields(const ExprNode& node, std::vector<std::string>& fields) {
  const auto add = [&fields](std::string field) {
    if (std::find(fields.begin(), fields.end(), field) == fields.end()) {
      fields.push_back(std::move(field));
    }
  };
  if (node.kind == NodeKind::kReference) add(node.name);
  if (node.kind == NodeKind::kCall && node.function != nullptr && node.function->reads_old_column) {
    add(node.children[0]->name);
    add("old." + node.children[0]->name);
  }
  for (const auto& child : node.children) collectFields(*child, fields);
}

bool readsClock(const ExprNode& node) {
  if (node.kind == NodeKind::kCall && node.function != nullptr && node.function->reads_clock) {
    return true;
  }
  return std::any_of(node.children.begin(), node.children.end(),
                     [](const auto& child) { return readsClock(*child); });
}

std::vector<ExprDiagnostic> sorted(std::vector<ExprDiagnostic> diagnostics) {
  std::stable_sort(
      diagnostics.begin(), diagnostics.end(),
      [](const ExprDiagnostic& a, const ExprDiagnostic& b) { return a.offset < b.offset; });
  return diagnostics;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Expression

struct Expression::Compiled {
  std::string text;
  std::size_t base = 0;  // offset of text in the host source; node offsets are host offsets
  std::unique_ptr<ExprNode> root;
  std::vector<std::string> fields;
  bool reads_clock = false;
};

Expression::Expression(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}

std::variant<Expression, std::vector<ExprDiagnostic>> Expression::compile(std::string_view text) {
  std::vector<ExprDiagnostic> diagnostics;
  Parser parser(text, 0, text.size(), diagnostics);
  auto root = parser.parseExpression();
  if (!parser.aborted()) {
    parser.reportTrailing();
    Checker(diagnostics, text).check(*root);
  }
  if (!diagnostics.empty()) return sorted(std::move(diagnostics));
  auto compiled = std::make_shared<Compiled>();
  compiled->text = std::string(text);
  collectFields(*root, compiled->fields);
  compiled->reads_clock = readsClock(*root);
  compiled->root = std::move(root);
  return Expression(std::move(compiled));
}

EmbeddedExpression Expression::compileEmbedded(std::string_view source, std::size_t begin,
                                               std::size_t end) {
  end = std::min(end, source.size());
  begin = std::min(begin, end);
  EmbeddedExpression result;
  Parser parser(source, begin, end, result.diagnostics);
  result.begin = parser.peek().begin;
  auto root = parser.parseExpression();
  result.end = parser.peek().begin;
  if (!parser.aborted()) Checker(result.diagnostics, source).check(*root);
  if (!result.diagnostics.empty()) {
    result.diagnostics = sorted(std::move(result.diagnostics));
    return result;
  }
  auto compiled = std::make_shared<Compiled>();
  compiled->base = root->begin;
  compiled->text = std::string(source.substr(root->begin, root->end - root->begin));
  collectFields(*root, compiled->fields);
  compiled->reads_clock = readsClock(*root);
  compiled->root = std::move(root);
  result.expression = Expression(std::move(compiled));
  return result;
}

Result<Value> Expression::evaluate(const EvalContext& context) const {
  return evaluateWith(context, EvalOptions{});
}

Result<Value> Expression::evaluateWith(const EvalContext& context,
                                       const EvalOptions& options) const {
  Evaluator evaluator(context, compiled_->text, compiled_->base, options.missing_as_null,
                      options.field_noun);
  return evaluator.evaluate(*compiled_->root);
}

Result<bool> Expression::evaluateCondition(const EvalContext& context) const {
  auto v = evaluate(context);
  if (!v) return v.error();
  return truthy(*v);
}

std::vector<std::string> Expression::referencedFields() const { return compiled_->fields; }

bool Expression::isConstant() const { return compiled_->fields.empty() && !compiled_->reads_clock; }

const std::string& Expression::text() const { return compiled_->text; }

}  // namespace smsbridge
