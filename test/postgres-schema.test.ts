import t from 'tap';
import { getTableName, is, SQL } from 'drizzle-orm';
import { getTableConfig as pgConfig, PgTable, type PgColumn } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteConfig, SQLiteTable, type SQLiteColumn } from 'drizzle-orm/sqlite-core';
import * as pgSchema from '../src/db/postgres/schema.js';
import * as sqliteSchema from '../src/db/sqlite/schema.js';
import { tablesInCopyOrder } from '../src/db/copy.js';

// What a column means, whatever the dialect: a timestamp is milliseconds in both (SQLite integer, PostgreSQL bigint).
function kindOf(column: SQLiteColumn | PgColumn): string {
  if (column.dataType === 'date' || column.getSQLType() === 'bigint') return 'timestamp-ms';
  // Bytes: a SQLite blob read as a Buffer, a PostgreSQL bytea.
  if (column.getSQLType() === 'bytea' || column.dataType === 'buffer') return 'bytes';
  return column.dataType === 'custom' ? column.getSQLType() : column.dataType;
}

function describe(config: ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>) {
  return {
    columns: Object.fromEntries(
      config.columns.map((c) => [
        c.name,
        {
          kind: kindOf(c),
          notNull: c.notNull,
          // Each dialect says "now" its own way; a literal default must be the same.
          // (SQLite marks an INTEGER PRIMARY KEY, the rowid, as defaulted without a value: that is no default.)
          default: is(c.default, SQL) ? 'an SQL expression' : c.hasDefault && c.default !== undefined ? c.default : 'none',
          primary: c.primary,
          unique: c.isUnique,
          enumValues: c.enumValues ?? null,
        },
      ]),
    ),
    primaryKeys: config.primaryKeys.map((pk) => pk.columns.map((c) => c.name)),
    foreignKeys: config.foreignKeys
      .map((fk) => {
        const ref = fk.reference();
        const names = (columns: { name: string }[]) => columns.map((c) => c.name).join(',');
        return `${names(ref.columns)} -> ${getTableName(ref.foreignTable)}(${names(ref.foreignColumns)}) on delete ${fk.onDelete ?? 'no action'}`;
      })
      .sort(),
    uniqueIndexes: config.indexes
      .filter((index) => index.config.unique)
      .map((index) => `${index.config.name}(${index.config.columns.map((c) => ('name' in c ? c.name : '?')).join(',')})`)
      .sort(),
  };
}

const sqliteTables = (Object.values(sqliteSchema) as unknown[]).filter((v): v is SQLiteTable => is(v, SQLiteTable));
const pgTables = (Object.values(pgSchema) as unknown[]).filter((v): v is PgTable => is(v, PgTable));

t.test('the PostgreSQL schema has the same tables as the SQLite one', async (t) => {
  t.same(pgTables.map((table) => pgConfig(table).name).sort(), sqliteTables.map((table) => sqliteConfig(table).name).sort());
  t.ok(sqliteTables.length >= 9, 'every table is seen');
});

for (const sqliteTable of sqliteTables) {
  const name = sqliteConfig(sqliteTable).name;
  t.test(`table ${name}: same columns, types, defaults, keys and unique constraints`, async (t) => {
    const pgTable = pgTables.find((table) => pgConfig(table).name === name);
    if (!pgTable) return t.fail(`${name} is missing from src/db/postgres/schema.ts`);
    t.same(describe(pgConfig(pgTable)), describe(sqliteConfig(sqliteTable)));
  });
}

t.test('db:copy visits every table, each after the tables it refers to', async (t) => {
  const order = tablesInCopyOrder().map((table) => pgConfig(table).name);
  t.same([...order].sort(), pgTables.map((table) => pgConfig(table).name).sort());
  t.ok(order.indexOf('users') < order.indexOf('sessions'));
  t.ok(order.indexOf('smtp_servers') < order.indexOf('smtp_server_departments'));
  t.ok(order.indexOf('departments') < order.indexOf('smtp_server_departments'));
  t.ok(order.indexOf('smtp_servers') < order.indexOf('confirmation_tokens'));
});
