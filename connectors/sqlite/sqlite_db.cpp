#include "connectors/sqlite/sqlite_db.h"

#include <filesystem>
#include <utility>

namespace smsbridge::sqlite {

Result<std::unique_ptr<Database>> Database::open(const std::string& path, OpenMode mode,
                                                 std::chrono::milliseconds busy_timeout) {
  if (mode != OpenMode::kCreateIfMissing && !std::filesystem::exists(path)) {
    return configError("SQLite database '" + path +
                       "' does not exist; check the path in the config (relative paths are "
                       "resolved against the config file's directory)");
  }
  int flags = SQLITE_OPEN_FULLMUTEX;
  flags |= mode == OpenMode::kReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (mode == OpenMode::kCreateIfMissing) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  std::unique_ptr<Database> db(new Database(raw, path));
  if (rc != SQLITE_OK) return db->error(rc, "opening");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(busy_timeout.count()));
  // Reading the schema forces SQLite to read the header: a file that is not a database or is
  // corrupt fails here, at start-up, rather than on the first change.
  SMSBRIDGE_RETURN_IF_ERROR(db->exec("SELECT count(*) FROM sqlite_master"));
  if (mode != OpenMode::kReadOnly && sqlite3_db_readonly(raw, "main") == 1) {
    return configError("SQLite database '" + path +
                       "' is read-only for this user; smsbridge needs write access to it and "
                       "to its directory (for the -wal and -shm files)");
  }
  return db;
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Database::error(int rc, std::string_view doing) const {
  std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  std::string what =
      "SQLite database '" + path_ + "': " + std::string(doing) + " failed: " + detail;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return transientError(what +
                            " (the file is locked by another process; smsbridge retries, but "
                            "if this persists find the process holding a long transaction)");
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return configError(what +
                         " (the file is not a SQLite database or is corrupt; point the config "
                         "at the right file, or restore it from a backup)");
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return configError(what +
                         " (no write access; give the smsbridge user write permission on the "
                         "file and its directory)");
    case SQLITE_CANTOPEN:
      return configError(what +
                         " (cannot open the file; check that the path and its directory exist "
                         "and are accessible)");
    case SQLITE_FULL:
    case SQLITE_IOERR:
      return transientError(what + " (disk full or I/O error on the volume holding the file)");
    default:
      return internalError(what);
  }
}

Status Database::exec(std::string_view sql) {
  std::string text(sql);
  char* msg = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &msg);
  if (msg) sqlite3_free(msg);
  if (rc != SQLITE_OK) return error(rc, "executing '" + text.substr(0, 80) + "'");
  return Status::ok();
}

Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return error(rc, "preparing '" + std::string(sql.substr(0, 80)) + "'");
  }
  return Statement(this, stmt);
}

Result<Statement> Database::cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && it->second != nullptr) {
    return Statement(this, std::exchange(it->second, nullptr), &it->second);
  }
  // Out already (a nested use), or one text too many: a statement of its own, finalized after.
  if (it != cache_.end() || cache_.size() >= kMaxCachedStatements) return prepare(sql);
  auto fresh = prepare(sql);
  if (!fresh) return fresh.error();
  // The slot stays nullptr while `fresh` is out; release() fills it.
  fresh->slot_ = &cache_.emplace(std::string(sql), nullptr).first->second;
  return fresh;
}

Status Database::runCached(std::string_view sql) {
  auto st = cached(sql);
  if (!st) return st.error();
  return st->run();
}

void Database::rollback() { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_),
      stmt_(std::exchange(other.stmt_, nullptr)),
      slot_(std::exchange(other.slot_, nullptr)),
      bind_error_(other.bind_error_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    release();
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
    slot_ = std::exchange(other.slot_, nullptr);
    bind_error_ = other.bind_error_;
  }
  return *this;
}

Statement::~Statement() { release(); }

void Statement::release() {
  if (slot_ == nullptr || stmt_ == nullptr) {
    sqlite3_finalize(stmt_);
  } else {
    // Reset ends the statement's read (a half-read SELECT would otherwise keep the WAL from
    // being checkpointed) and its error; cleared bindings keep one use's values out of the next.
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *slot_ = stmt_;
  }
  stmt_ = nullptr;
  slot_ = nullptr;
}

Statement& Statement::bind(int index, std::int64_t v) {
  if (int rc = sqlite3_bind_int64(stmt_, index, v); rc != SQLITE_OK)
    bind_error_ = db_->error(rc, "binding");
  return *this;
}

Statement& Statement::bind(int index, double v) {
  if (int rc = sqlite3_bind_double(stmt_, index, v); rc != SQLITE_OK)
    bind_error_ = db_->error(rc, "binding");
  return *this;
}

Statement& Statement::bind(int index, std::string_view v) {
  if (int rc =
          sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK)
    bind_error_ = db_->error(rc, "binding");
  return *this;
}

Statement& Statement::bindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::string>& v) {
  return v ? bind(index, std::string_view(*v)) : bindNull(index);
}

Statement& Statement::bind(int index, const Value& v) {
  if (v.isNull() || v.isUnavailable()) return bindNull(index);
  if (v.isBool()) return bind(index, static_cast<std::int64_t>(v.asBool()));
  if (v.isInt()) return bind(index, v.asInt());
  if (v.isDouble()) return bind(index, v.asDouble());
  return bind(index, std::string_view(v.asString()));
}

Result<bool> Statement::step() {
  if (!bind_error_.isOk()) return bind_error_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->error(rc, "running '" + std::string(sqlite3_sql(stmt_)).substr(0, 80) + "'");
}

Status Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return row.error();
    if (!*row) return Status::ok();
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = Status::ok();
}

std::string Statement::columnText(int i) const {
  const unsigned char* text = sqlite3_column_text(stmt_, i);
  if (!text) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)));
}

std::optional<std::string> Statement::columnOptText(int i) const {
  if (columnIsNull(i)) return std::nullopt;
  return columnText(i);
}

Value Statement::columnValue(int i) const {
  switch (sqlite3_column_type(stmt_, i)) {
    case SQLITE_NULL:
      return Value();
    case SQLITE_INTEGER:
      return Value(columnInt(i));
    case SQLITE_FLOAT:
      return Value(columnDouble(i));
    default:
      return Value(columnText(i));
  }
}

}  // namespace smsbridge::sqlite
