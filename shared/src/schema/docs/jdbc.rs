//! Docs of the JDBC tasks (PostgreSQL, DuckDB).

use crate::plugins::PropKind;
use crate::schema::{OutDoc, PropDoc, TypeDoc};

/// The properties the JDBC tasks share.
pub(super) const POOL: &[PropDoc] = &[
    PropDoc::new("url", "The JDBC URL (jdbc:postgresql://host:5432/db, jdbc:duckdb:…)."),
    PropDoc::new("username", "The database user."),
    PropDoc::new("password", "The user's password (use a secret)."),
    PropDoc::new("ssl", "Connect over TLS.").default("false"),
    PropDoc::new("sslMode", "PostgreSQL's sslmode: DISABLE, ALLOW, PREFER, REQUIRE, VERIFY_CA or VERIFY_FULL."),
    PropDoc::new("sslRootCert", "The CA certificate (PEM)."),
    PropDoc::new("sslCert", "The client certificate (PEM)."),
    PropDoc::new("sslKey", "The client key (PEM)."),
    PropDoc::new("sslKeyPassword", "The client key's password."),
    PropDoc::new("timeZoneId", "The time zone dates are read in."),
    PropDoc::new("sql", "The SQL to run."),
    PropDoc::new("parameters", "Named parameters bound in the SQL (:name)."),
    PropDoc::new("fetchSize", "Rows fetched per round trip.").default("10000"),
    PropDoc::new("afterSQL", "SQL run after the query, in the same transaction."),
    PropDoc::new("transaction", "Run all statements in one transaction.").default("true"),
    PropDoc::new("fetchType", "What to do with the result rows.").values(&["STORE", "FETCH", "FETCH_ONE", "NONE"]).default("\"NONE\""),
    PropDoc::new("fetch", "Legacy: fetchType FETCH.").default("false"),
    PropDoc::new("fetchOne", "Legacy: fetchType FETCH_ONE.").default("false"),
    PropDoc::new("store", "Legacy: fetchType STORE.").default("false"),
    PropDoc::new("autoCommit", "Commit each statement on its own.").default("true"),
    PropDoc::new("inputFiles", "Files put in DuckDB's working directory: name → content or kestra:// URI."),
    PropDoc::new("outputFiles", "Files of the working directory kept as outputs."),
    PropDoc::new("databaseUri", "A stored DuckDB database file to open (kestra:// URI)."),
    PropDoc::new("outputDbFile", "Keep the database file as an output.").default("false"),
    PropDoc::new("communityExtensions", "DuckDB community extensions to load."),
    PropDoc::new("table", "The table to copy into or from."),
    PropDoc::new("columns", "The columns copied."),
    PropDoc::new("format", "The COPY format.").values(&["TEXT", "CSV", "BINARY"]).default("\"TEXT\""),
    PropDoc::new("oids", "Copy the OID of each row (old servers).").default("false"),
    PropDoc::new("freeze", "COPY FREEZE.").default("false"),
    PropDoc::new("delimiter", "The column delimiter."),
    PropDoc::new("nullString", "The text of a NULL."),
    PropDoc::new("header", "The file has (or gets) a header line.").default("false"),
    PropDoc::new("quote", "The quote character (CSV)."),
    PropDoc::new("escape", "The escape character (CSV)."),
    PropDoc::new("forceQuote", "Columns always quoted (CSV out)."),
    PropDoc::new("forceNotNull", "Columns never read as NULL (CSV in)."),
    PropDoc::new("forceNull", "Columns whose quoted empty value is NULL (CSV in)."),
    PropDoc::new("encoding", "The file's encoding."),
    PropDoc::new("socketTimeout", "Socket timeout in seconds."),
    PropDoc::new("from", "The file to copy in (kestra:// URI)."),
];
const QUERY_OUT: &[OutDoc] = &[
    OutDoc::new("row", PropKind::Map, "The first row (fetchType FETCH_ONE)."),
    OutDoc::new("rows", PropKind::List, "The rows (fetchType FETCH)."),
    OutDoc::new("uri", PropKind::String, "A file of the rows, one JSON (Ion) line each (fetchType STORE)."),
    OutDoc::new("size", PropKind::Integer, "The number of rows fetched or stored."),
];

pub(super) static DOCS: &[TypeDoc] = &[
    TypeDoc::new("io.kestra.plugin.jdbc.postgresql.Query", "Run a SQL query on PostgreSQL.", "Runs one statement and fetches, stores or ignores its rows.")
        .example(concat!("id: count\ntype: io.kestra.plugin.jdbc.postgresql.Query\n", "url: jdbc:postgresql://localhost:5432/postgres\nusername: postgres\npassword: \"{{ secret('PG_PASSWORD') }}\"\n", "sql: SELECT count(*) AS n FROM trips\nfetchType: FETCH_ONE\n"))
        .outputs(QUERY_OUT),
    TypeDoc::new("io.kestra.plugin.jdbc.postgresql.Queries", "Run several SQL statements on PostgreSQL.", "Runs statements separated by ';', in one transaction by default.")
        .example(concat!("id: setup\ntype: io.kestra.plugin.jdbc.postgresql.Queries\n", "url: jdbc:postgresql://localhost:5432/postgres\nusername: postgres\npassword: \"{{ secret('PG_PASSWORD') }}\"\n", "sql: |\n  CREATE TABLE IF NOT EXISTS t (id int);\n  TRUNCATE t;\n"))
        .outputs(&[OutDoc::new("outputs", PropKind::List, "One result per statement that returns rows.")]),
    TypeDoc::new("io.kestra.plugin.jdbc.postgresql.CopyIn", "Load a file into a PostgreSQL table with COPY.", "Streams a stored file into a table with COPY FROM STDIN.")
        .example(concat!("id: load\ntype: io.kestra.plugin.jdbc.postgresql.CopyIn\n", "url: jdbc:postgresql://localhost:5432/postgres\nusername: postgres\npassword: \"{{ secret('PG_PASSWORD') }}\"\n", "from: \"{{ outputs.extract.uri }}\"\ntable: trips\nformat: CSV\nheader: true\n"))
        .outputs(&[OutDoc::new("rowCount", PropKind::Integer, "The rows copied.")]),
    TypeDoc::new("io.kestra.plugin.jdbc.postgresql.CopyOut", "Export a PostgreSQL table or query with COPY.", "Streams COPY TO STDOUT into a stored file.")
        .example(concat!("id: export\ntype: io.kestra.plugin.jdbc.postgresql.CopyOut\n", "url: jdbc:postgresql://localhost:5432/postgres\nusername: postgres\npassword: \"{{ secret('PG_PASSWORD') }}\"\n", "sql: SELECT * FROM trips\nformat: CSV\nheader: true\n"))
        .outputs(&[OutDoc::new("uri", PropKind::String, "The exported file."), OutDoc::new("rowCount", PropKind::Integer, "The rows copied.")]),
    TypeDoc::new("io.kestra.plugin.jdbc.duckdb.Query", "Run a SQL query with DuckDB.", "Runs SQL in an embedded DuckDB, with input files in its working directory; fetches or stores the rows.")
        .example("id: duck\ntype: io.kestra.plugin.jdbc.duckdb.Query\ninputFiles:\n  data.csv: \"a,b\\n1,2\\n\"\nsql: SELECT sum(b) AS total FROM read_csv_auto('data.csv')\nfetchType: FETCH_ONE\n")
        .outputs(QUERY_OUT),
    TypeDoc::new("io.kestra.plugin.jdbc.duckdb.Queries", "Run several SQL statements with DuckDB.", "Runs statements separated by ';' in an embedded DuckDB.")
        .example("id: ducks\ntype: io.kestra.plugin.jdbc.duckdb.Queries\nsql: |\n  CREATE TABLE t AS SELECT 42 AS answer;\n  SELECT * FROM t;\nfetchType: FETCH\n")
        .outputs(&[OutDoc::new("outputs", PropKind::List, "One result per statement that returns rows.")]),
];

