import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { sql } from "kysely";
import ts from "typescript";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../../test/database.ts";

// db-schema.ts is written by hand; this test reads it with the TypeScript parser and compares every table,
// column and nullability with what the migrations actually built, so the two cannot drift apart.

type ColumnShape = Record<string, "null" | "not null" | "any">;

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

async function declaredTables(): Promise<Record<string, ColumnShape>> {
  const file = resolve(import.meta.dirname, "db-schema.ts");
  const source = ts.createSourceFile(file, await readFile(file, "utf8"), ts.ScriptTarget.Latest, true);
  const interfaces = new Map<string, ts.InterfaceDeclaration>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node)) interfaces.set(node.name.text, node);
  });
  const members = (name: string) => {
    const declaration = interfaces.get(name);
    if (declaration === undefined) throw new Error(`db-schema.ts has no interface ${name}`);
    return declaration.members.filter(ts.isPropertySignature).map((member) => ({
      name: member.name.getText(source),
      type: member.type?.getText(source) ?? "",
    }));
  };
  const tables: Record<string, ColumnShape> = {};
  for (const table of members("Database")) {
    tables[table.name] = Object.fromEntries(
      members(table.type).map((column) => [column.name, nullabilityOf(column.type)]),
    );
  }
  return tables;
}

// A JSON column is typed `unknown`, which admits null whatever the column allows, so any nullability fits it.
function nullabilityOf(type: string): "null" | "not null" | "any" {
  if (type === "unknown") return "any";
  return /\bnull\b/.test(type) ? "null" : "not null";
}

async function migratedTables(): Promise<Record<string, ColumnShape>> {
  const { rows } = await sql<{ table_name: string; column_name: string; is_nullable: string }>`
    SELECT table_name, column_name, is_nullable
    FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name NOT LIKE 'kysely_%'
    ORDER BY table_name, ordinal_position`.execute(database.db);
  const tables: Record<string, ColumnShape> = {};
  for (const row of rows) {
    tables[row.table_name] ??= {};
    tables[row.table_name] = {
      ...tables[row.table_name],
      [row.column_name]: row.is_nullable === "YES" ? "null" : "not null",
    };
  }
  return tables;
}

it("declares exactly the tables, columns and nullability the migrations build", async () => {
  const declared = await declaredTables();
  const migrated = await migratedTables();
  for (const [table, columns] of Object.entries(declared)) {
    for (const [column, nullability] of Object.entries(columns)) {
      const actual = migrated[table]?.[column];
      if (nullability === "any" && actual !== undefined) columns[column] = actual;
    }
  }
  expect(declared).toEqual(migrated);
  expect(Object.keys(declared).length).toBeGreaterThanOrEqual(7);
});
