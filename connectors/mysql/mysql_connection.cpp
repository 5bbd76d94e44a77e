#include "connectors/mysql/mysql_connection.h"

#include <errmsg.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "core/clock.h"

namespace smsbridge::mysql {
namespace {

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    unsigned int byte = 0;
    auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, byte, 16);
    if (ec != std::errc() || ptr != text.data() + i + 3) return std::nullopt;
    out += static_cast<char>(byte);
    i += 2;
  }
  return out;
}

std::optional<unsigned int> parsePort(std::string_view text) {
  unsigned int port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || ptr != text.data() + text.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

Result<ConnectionOptions> parseUrl(std::string_view rest) {
  const Status bad = configError(
      "the MySQL DSN is not mysql://user:password@host[:port]/database (or key=value pairs: "
      "host= port= user= password= dbname=)");
  ConnectionOptions options;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    return configError("the MySQL DSN has options after '?', which smsbridge does not support");
  }
  std::string_view authority = rest;
  std::string_view path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::string_view user = userinfo;
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      auto password = percentDecode(userinfo.substr(colon + 1));
      if (!password) return bad;
      options.password = *password;
    }
    auto decoded = percentDecode(user);
    if (!decoded) return bad;
    options.user = *decoded;
  }
  std::string_view host = authority;
  if (!authority.empty() && authority.front() == '[') {  // [::1]:3306
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad;
    host = authority.substr(1, close - 1);
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return bad;
      auto port = parsePort(authority.substr(1));
      if (!port) return bad;
      options.port = *port;
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    auto port = parsePort(authority.substr(colon + 1));
    if (!port) return bad;
    options.port = *port;
  }
  if (!host.empty()) options.host = std::string(host);
  auto database = percentDecode(path);
  if (!database) return bad;
  options.database = *database;
  return options;
}

Result<ConnectionOptions> parseKeyValues(std::string_view text) {
  ConnectionOptions options;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size()) break;
    auto eq = text.find('=', i);
    if (eq == std::string_view::npos) {
      return configError("the MySQL DSN has a word without '=' (expected key=value pairs)");
    }
    std::string key(text.substr(i, eq - i));
    std::size_t end = text.find_first_of(" \t", eq + 1);
    if (end == std::string_view::npos) end = text.size();
    std::string value(text.substr(eq + 1, end - eq - 1));
    i = end;
    if (key == "host") {
      options.host = value;
    } else if (key == "port") {
      auto port = parsePort(value);
      if (!port) return configError("the MySQL DSN has an invalid port");
      options.port = *port;
    } else if (key == "user") {
      options.user = value;
    } else if (key == "password") {
      options.password = value;
    } else if (key == "dbname" || key == "database") {
      options.database = value;
    } else {
      return configError("the MySQL DSN has an unknown key '" + key +
                         "' (allowed: host, port, user, password, dbname)");
    }
  }
  return options;
}

bool isConnectionLoss(unsigned int code) {
  switch (code) {
    case CR_CONNECTION_ERROR:      // 2002
    case CR_CONN_HOST_ERROR:       // 2003
    case CR_SERVER_GONE_ERROR:     // 2006
    case CR_SERVER_LOST:           // 2013
    case CR_SERVER_LOST_EXTENDED:  // 2055
    case 1053:                     // server shutdown in progress
    case 1927:                     // connection killed
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string ConnectionOptions::describe() const {
  return user + "@" + host + ":" + std::to_string(port) + "/" + database;
}

Result<ConnectionOptions> parseDsn(std::string_view dsn) {
  Result<ConnectionOptions> parsed = configError("empty MySQL DSN");
  if (dsn.starts_with("mysql://")) {
    parsed = parseUrl(dsn.substr(8));
  } else if (dsn.starts_with("mariadb://")) {
    parsed = parseUrl(dsn.substr(10));
  } else if (dsn.find('=') != std::string_view::npos) {
    parsed = parseKeyValues(dsn);
  } else if (!dsn.empty()) {
    return configError(
        "the MySQL DSN must start with mysql:// or be key=value pairs (host= port= user= "
        "password= dbname=)");
  }
  if (!parsed) return parsed;
  if (parsed->database.empty()) {
    return configError("the MySQL DSN names no database; smsbridge needs one (…/dbname)");
  }
  return parsed;
}

Result<std::unique_ptr<Connection>> Connection::connect(const ConnectionOptions& options) {
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) return internalError("mysql_init failed (out of memory)");
  auto seconds = [](std::chrono::milliseconds ms) {
    return static_cast<unsigned int>(std::max<std::int64_t>(1, (ms.count() + 999) / 1000));
  };
  unsigned int connect_timeout = seconds(options.connect_timeout);
  unsigned int read_timeout = seconds(options.read_timeout);
  unsigned int write_timeout = seconds(options.write_timeout);
  mysql_optionsv(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_optionsv(mysql, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  mysql_optionsv(mysql, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
  // utf8mb4 so names like 'Łukasz' and emoji survive; UTC so DATETIME(3) columns written from
  // UTC_TIMESTAMP() and from our own bound times agree; READ COMMITTED so each statement sees
  // the latest commits and FOR UPDATE takes no gap locks that would block the shop's inserts.
  mysql_optionsv(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  mysql_optionsv(mysql, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
  mysql_optionsv(mysql, MYSQL_INIT_COMMAND,
                 "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
  // Strict mode makes a too-long dedup key an error instead of a silently truncated key that
  // could collide with another job's.
  mysql_optionsv(mysql, MYSQL_INIT_COMMAND,
                 "SET SESSION sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, "
                 "',STRICT_TRANS_TABLES'))");
  std::unique_ptr<Connection> conn(new Connection(mysql, options));
  if (mysql_real_connect(mysql, options.host.c_str(), options.user.c_str(),
                         options.password.c_str(), options.database.c_str(), options.port, nullptr,
                         0) == nullptr) {
    return conn->connectionError("connecting");
  }
  conn->version_ = mysql_get_server_version(mysql);
  const char* info = mysql_get_server_info(mysql);
  conn->mariadb_ = info != nullptr && std::string_view(info).find("MariaDB") != std::string::npos;
  return conn;
}

Connection::Connection(MYSQL* mysql, ConnectionOptions options)
    : mysql_(mysql), options_(std::move(options)) {}

Connection::~Connection() { mysql_close(mysql_); }

bool Connection::supportsSkipLocked() const {
  return mariadb_ ? version_ >= 100600 : version_ >= 80000;
}

Status Connection::error(unsigned int code, std::string_view sqlstate, std::string_view message,
                         std::string_view doing) {
  last_error_code_ = code;
  const std::string where = options_.describe();
  std::string text = std::string(doing) + " (" + where + "): " + std::string(message) +
                     " [MySQL error " + std::to_string(code) + ", SQLSTATE " +
                     std::string(sqlstate) + "]";
  if (isConnectionLoss(code)) {
    broken_ = true;
    return transientError(text + "; will reconnect");
  }
  switch (code) {
    case 1205:  // lock wait timeout
    case 1213:  // deadlock: the server rolled the transaction back
    case 1040:  // too many connections
    case 1317:  // query interrupted
      return transientError(text);
    case 1045:  // access denied (user/password)
      return configError(text + "; check the user and password in the source's `dsn`");
    case 1044:  // no access to the database
    case 1049:  // unknown database
      return configError(text + "; create database '" + options_.database + "' on " +
                         options_.host + " or grant the user access to it, or fix `dsn`");
    case 1142:  // command denied on a table
    case 1143:  // column access denied
    case 1227:  // needs a privilege like SUPER
    case 1370:  // routine access denied
      return configError(text +
                         "; grant the user the privileges `smsbridge setup` prints for "
                         "database '" +
                         options_.database + "' on " + options_.host);
    case 1419:  // creating triggers with binary logging on
      return configError(text + "; on " + options_.host +
                         " set log_bin_trust_function_creators=1 or run `smsbridge setup` "
                         "as a user with SUPER");
    case 1146:  // no such table
      return configError(text + "; run `smsbridge setup -c <config>` against database '" +
                         options_.database + "' on " + options_.host);
    default:
      return internalError(text);
  }
}

Status Connection::connectionError(std::string_view doing) {
  return error(mysql_errno(mysql_), mysql_sqlstate(mysql_), mysql_error(mysql_), doing);
}

Status Connection::statementError(MYSQL_STMT* stmt, std::string_view doing) {
  return error(mysql_stmt_errno(stmt), mysql_stmt_sqlstate(stmt), mysql_stmt_error(stmt), doing);
}

Status Connection::exec(const std::string& sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return connectionError("running SQL");
  // A statement without a result set leaves nothing to read; one with (unexpected) is drained.
  if (MYSQL_RES* res = mysql_store_result(mysql_)) mysql_free_result(res);
  return Status::ok();
}

void Connection::rollback() {
  if (broken_) return;
  if (mysql_real_query(mysql_, "ROLLBACK", 8) != 0) broken_ = true;
}

void Connection::StmtCloser::operator()(MYSQL_STMT* stmt) const { mysql_stmt_close(stmt); }

Result<Connection::Stmt> Connection::run(const std::string& sql, std::span<const Param> params,
                                         std::string_view doing) {
  last_error_code_ = 0;
  Stmt stmt(mysql_stmt_init(mysql_));
  if (!stmt) return internalError("mysql_stmt_init failed (out of memory)");
  if (mysql_stmt_prepare(stmt.get(), sql.data(), sql.size()) != 0) {
    return statementError(stmt.get(), doing);
  }
  if (mysql_stmt_param_count(stmt.get()) != params.size()) {
    return internalError("statement expects " + std::to_string(mysql_stmt_param_count(stmt.get())) +
                         " parameters, got " + std::to_string(params.size()) + ": " + sql);
  }
  std::vector<MYSQL_BIND> binds(params.size());
  std::vector<unsigned long> lengths(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) {
    MYSQL_BIND& b = binds[i];
    b = MYSQL_BIND{};
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            b.buffer_type = MYSQL_TYPE_NULL;
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            b.buffer_type = MYSQL_TYPE_LONGLONG;
            b.buffer = const_cast<std::int64_t*>(&v);
          } else if constexpr (std::is_same_v<T, double>) {
            b.buffer_type = MYSQL_TYPE_DOUBLE;
            b.buffer = const_cast<double*>(&v);
          } else {
            b.buffer_type = MYSQL_TYPE_STRING;
            b.buffer = const_cast<char*>(v.data());
            b.buffer_length = v.size();
            lengths[i] = v.size();
            b.length = &lengths[i];
          }
        },
        params[i]);
  }
  if (!binds.empty() && mysql_stmt_bind_param(stmt.get(), binds.data()) != 0) {
    return statementError(stmt.get(), doing);
  }
  if (mysql_stmt_execute(stmt.get()) != 0) return statementError(stmt.get(), doing);
  return stmt;
}

Result<std::uint64_t> Connection::execute(const std::string& sql, std::span<const Param> params) {
  auto stmt = run(sql, params, "running a statement");
  if (!stmt) return stmt.error();
  return static_cast<std::uint64_t>(mysql_stmt_affected_rows(stmt->get()));
}

Result<std::vector<ResultRow>> Connection::query(const std::string& sql,
                                                 std::span<const Param> params) {
  std::vector<ResultRow> rows;
  Status s = forEachRow(sql, params, [&](const std::vector<ResultColumn>&, const ResultRow& row) {
    rows.push_back(row);
    return true;
  });
  if (!s.isOk()) return s;
  return rows;
}

Status Connection::forEachRow(
    const std::string& sql, std::span<const Param> params,
    const std::function<bool(const std::vector<ResultColumn>&, const ResultRow&)>& on_row) {
  auto stmt = run(sql, params, "running a query");
  if (!stmt) return stmt.error();
  MYSQL_STMT* s = stmt->get();
  MYSQL_RES* meta = mysql_stmt_result_metadata(s);
  if (meta == nullptr) return Status::ok();
  const unsigned int n = mysql_num_fields(meta);
  std::vector<ResultColumn> columns(n);
  std::vector<bool> is_double(n);
  for (unsigned int i = 0; i < n; ++i) {
    const MYSQL_FIELD* field = mysql_fetch_field_direct(meta, i);
    columns[i] = {std::string(field->name, field->name_length), field->type,
                  (field->flags & UNSIGNED_FLAG) != 0};
    is_double[i] = field->type == MYSQL_TYPE_DOUBLE || field->type == MYSQL_TYPE_FLOAT;
  }
  mysql_free_result(meta);
  // Every column is fetched as text: bind empty buffers to learn each length, then fetch each
  // non-null column into a string of exactly that size. Without mysql_stmt_store_result() the
  // rows come off the network one fetch at a time.
  std::vector<MYSQL_BIND> binds(n);
  std::vector<unsigned long> lengths(n);
  std::vector<my_bool> nulls(n);
  std::vector<my_bool> errors(n);
  std::vector<double> doubles(n);
  for (unsigned int i = 0; i < n; ++i) {
    binds[i] = MYSQL_BIND{};
    // Connector/C's own double-to-text conversion needs a sized buffer; fetch doubles as
    // doubles and write the shortest text that reads back to the same value.
    if (is_double[i]) {
      binds[i].buffer_type = MYSQL_TYPE_DOUBLE;
      binds[i].buffer = &doubles[i];
    } else {
      binds[i].buffer_type = MYSQL_TYPE_STRING;
    }
    binds[i].length = &lengths[i];
    binds[i].is_null = &nulls[i];
    binds[i].error = &errors[i];
  }
  if (mysql_stmt_bind_result(s, binds.data()) != 0) return statementError(s, "reading a result");
  ResultRow row(n);
  while (true) {
    int rc = mysql_stmt_fetch(s);
    if (rc == MYSQL_NO_DATA) break;
    if (rc == 1) return statementError(s, "reading a result");
    for (unsigned int i = 0; i < n; ++i) {
      row[i].reset();
      if (nulls[i]) continue;
      if (is_double[i]) {
        row[i] = fmt::format("{}", doubles[i]);
        continue;
      }
      std::string value(lengths[i], '\0');
      if (lengths[i] > 0) {
        unsigned long got = 0;
        MYSQL_BIND col{};
        col.buffer_type = MYSQL_TYPE_STRING;
        col.buffer = value.data();
        col.buffer_length = value.size();
        col.length = &got;
        if (mysql_stmt_fetch_column(s, &col, i, 0) != 0)
          return statementError(s, "reading a result");
        value.resize(std::min<unsigned long>(got, value.size()));
      }
      row[i] = std::move(value);
    }
    if (!on_row(columns, row)) break;
  }
  return Status::ok();
}

std::string toSqlTime(std::chrono::system_clock::time_point t) {
  // formatTimestamp gives "2026-11-22T10:15:00.123Z"; DATETIME wants a space and no zone.
  std::string text = formatTimestamp(t);
  if (text.size() > 10 && text[10] == 'T') text[10] = ' ';
  if (!text.empty() && text.back() == 'Z') text.pop_back();
  return text;
}

std::optional<std::chrono::system_clock::time_point> fromSqlTime(const Cell& cell) {
  if (!cell) return std::nullopt;
  return parseTimestamp(*cell);
}

}  // namespace smsbridge::mysql
