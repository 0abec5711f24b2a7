// The part of better-sqlite3's API the benchmark baseline uses.
declare module 'better-sqlite3' {
  type Statement = { run(...params: unknown[]): unknown; get(...params: unknown[]): unknown };
  class Database {
    constructor(filename: string);
    exec(sql: string): void;
    prepare(sql: string): Statement;
    transaction<T extends (...args: never[]) => unknown>(fn: T): T;
  }
  export default Database;
}
