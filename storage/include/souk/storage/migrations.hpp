// Versioned schema migrations, applied at start-up, each in its own transaction
// and recorded in the schema_migrations table.
#pragma once

#include <span>
#include <stdexcept>

namespace souk::storage {

class Connection;

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// The migrations this binary knows, in version order.
std::span<const Migration> known_migrations();

// Raised when the database was written by a newer binary.
class SchemaTooNewError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The highest applied version (0 for an empty database).
int schema_version(Connection& conn);

// Applies every known migration above the current version; returns the new
// version. Throws SchemaTooNewError if the database is ahead of this binary.
int migrate(Connection& conn, std::span<const Migration> migrations = known_migrations());

}  // namespace souk::storage
