/**
 * Table names of the SQL stores. A table name is spliced into the SQL text
 * (a statement cannot bind it), so only a plain identifier is accepted:
 * nothing that needs quoting can reach a statement.
 *
 * @module
 */
import { SessionConfigError } from "../../errors.ts";

/**
 * Whether `name` is 1 to `maxLength` letters, digits and `_`, not starting
 * with a digit (PostgreSQL and SQLite: 63, MySQL: 64).
 */
export function isSqlIdentifier(name: string, maxLength = 63): boolean {
  return new RegExp(`^[A-Za-z_][A-Za-z0-9_]{0,${maxLength - 1}}$`).test(name);
}

/**
 * Throws a `SessionConfigError` unless `tableName` is a string that
 * {@link isSqlIdentifier} accepts. `usage` ends the message for a value
 * that is no string at all (`pass options as the third argument: ...`).
 */
export function checkTableName(
  where: string,
  tableName: unknown,
  usage: string,
  maxLength = 63,
): asserts tableName is string {
  if (typeof tableName !== "string") {
    throw new SessionConfigError(
      `${where}: the table name must be a string, got ${typeof tableName}; ${usage}`,
    );
  }
  if (!isSqlIdentifier(tableName, maxLength)) {
    throw new SessionConfigError(
      `${where}: table name ${JSON.stringify(tableName)} is not an identifier; use 1 to ` +
        `${maxLength} letters, digits and _, not starting with a digit`,
    );
  }
}
