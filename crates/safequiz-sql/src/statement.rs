//! The one way this crate runs a statement, on whichever database the store has.
//!
//! A [`Statement`] is SQL text written once for both databases, with `$N` parameters (SQLite
//! accepts them, numbering each by where it first appears, so `$N` must first appear after
//! `$N-1`), and the values bound to them. Its methods bind the values in one place and run the
//! text on the store's pool, reading rows into `#[derive(sqlx::FromRow)]` structs. Inside a
//! transaction, `on_pool!` (in `lib.rs`) names the pool and [`Statement::query`] and its
//! siblings build the query for that database.
//!
//! Only the multi-row inserts of the flush (`record`) spell SQL per database, because the two
//! take a batch differently (`UNNEST` of arrays against multi-row `VALUES`). Statements that
//! take many rows otherwise get them as one JSON parameter, which
//! [`Statement::push_json_rows`] turns into a row source on either database; the roll-up
//! upserts, the largest of them, take theirs on SQLite as a `VALUES` list of typed parameters
//! instead ([`Statement::push_values_rows`]), which SQLite reads without parsing anything.
//!
//! Work that spans several statements runs in a [`Transaction`] on either database, with the
//! `*_in` methods.

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::postgres::PgRow;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::sqlite::SqliteRow;
use sqlx::{Arguments, AssertSqlSafe, Database, FromRow, IntoArguments, Postgres, Sqlite};

use crate::{Backend, Store};

/// Rows per SQLite statement that takes its rows as a multi-row `VALUES` list (the flush's
/// inserts in `record`, the roll-ups' [`Statement::push_values_rows`]): at most 14 columns, so
/// at most 3,584 values, far below SQLite's limit of 32,766.
pub(crate) const SQLITE_VALUES_ROWS: usize = 256;

/// The rows `0..rows` cut into the ranges that SQLite statements of a `VALUES` list take:
/// [`SQLITE_VALUES_ROWS`] each, then the rest in falling powers of two, so that a statement's
/// text is one of nine and each is prepared once per connection, whatever the batch sizes.
pub(crate) fn sqlite_chunks(rows: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let left = rows - start;
        if left == 0 {
            return None;
        }
        let take = if left >= SQLITE_VALUES_ROWS {
            SQLITE_VALUES_ROWS
        } else {
            1 << left.ilog2()
        };
        start += take;
        Some(start - take..start)
    })
}

/// Serializes rows for [`Statement::push_json_rows`].
pub(crate) fn json_rows<T: serde::Serialize>(rows: &[T]) -> String {
    serde_json::to_string(rows).expect("rows of strings, integers and booleans always serialize")
}

/// Runs `$body` with `$conn` bound to the transaction's connection, whichever database it is;
/// the body is written once and compiled for each.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::statement::Transaction::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::statement::Transaction::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// A transaction on whichever database the store has; dropped without [`Transaction::commit`],
/// it rolls back.
pub(crate) enum Transaction {
    /// On SQLite.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// On PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Transaction {
    /// Which database the transaction runs on.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Transaction::Sqlite(_) => Backend::Sqlite,
            Transaction::Postgres(_) => Backend::Postgres,
        }
    }

    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Transaction::Sqlite(tx) => tx.commit().await,
            Transaction::Postgres(tx) => tx.commit().await,
        }
    }
}

impl Store {
    /// Begins a transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`, waiting up to the busy timeout): a transaction that read first and
    /// wrote later would fail at its first write if another writer committed in between.
    pub(crate) async fn begin_write(&self) -> Result<Transaction, sqlx::Error> {
        Ok(match self {
            Store::Sqlite(pool) => Transaction::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Store::Postgres(pool) => Transaction::Postgres(pool.begin().await?),
        })
    }
}

/// The SQL type of a column of rows given as JSON (see [`Statement::push_json_rows`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SqlType {
    /// `TEXT`.
    Text,
    /// `INTEGER`.
    Int4,
    /// `BIGINT`.
    Int8,
    /// `BOOLEAN` (an integer on SQLite).
    Bool,
}

impl SqlType {
    pub(crate) fn postgres(self) -> &'static str {
        match self {
            SqlType::Text => "text",
            SqlType::Int4 => "integer",
            SqlType::Int8 => "bigint",
            SqlType::Bool => "boolean",
        }
    }
}

/// One value bound to a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bind {
    /// `TEXT`.
    Text(String),
    /// `TEXT`, or `NULL`.
    OptionalText(Option<String>),
    /// `BIGINT` (`INTEGER` on SQLite).
    Int8(i64),
    /// `INTEGER`.
    Int4(i32),
    /// `INTEGER`, or `NULL`.
    OptionalInt8(Option<i64>),
    /// `BLOB` (`BYTEA` on PostgreSQL).
    Bytes(Vec<u8>),
}

impl From<Vec<u8>> for Bind {
    fn from(value: Vec<u8>) -> Bind {
        Bind::Bytes(value)
    }
}

impl From<&str> for Bind {
    fn from(value: &str) -> Bind {
        Bind::Text(value.to_owned())
    }
}

impl From<String> for Bind {
    fn from(value: String) -> Bind {
        Bind::Text(value)
    }
}

impl From<Option<&str>> for Bind {
    fn from(value: Option<&str>) -> Bind {
        Bind::OptionalText(value.map(str::to_owned))
    }
}

impl From<i64> for Bind {
    fn from(value: i64) -> Bind {
        Bind::Int8(value)
    }
}

impl From<i32> for Bind {
    fn from(value: i32) -> Bind {
        Bind::Int4(value)
    }
}

impl From<Option<i64>> for Bind {
    fn from(value: Option<i64>) -> Bind {
        Bind::OptionalInt8(value)
    }
}

/// A row type both databases can read: what every `#[derive(sqlx::FromRow)]` struct of this
/// crate is, and what the statement runners return.
pub(crate) trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

/// A database whose arguments take every kind of [`Bind`]: SQLite and PostgreSQL.
pub(crate) trait Binds: Database<Arguments: IntoArguments<Self>> {
    /// Adds `bind` to `arguments`.
    fn add(arguments: &mut Self::Arguments, bind: Bind) -> Result<(), sqlx::Error>;
}

/// Implements [`Binds`] for a database: the same text for both, so the values are bound in one
/// place whatever the database.
macro_rules! binds {
    ($($database:ty),*) => {$(
        impl Binds for $database {
            fn add(arguments: &mut Self::Arguments, bind: Bind) -> Result<(), sqlx::Error> {
                match bind {
                    Bind::Text(value) => arguments.add(value),
                    Bind::OptionalText(value) => arguments.add(value),
                    Bind::Int8(value) => arguments.add(value),
                    Bind::Int4(value) => arguments.add(value),
                    Bind::OptionalInt8(value) => arguments.add(value),
                    Bind::Bytes(value) => arguments.add(value),
                }
                .map_err(sqlx::Error::Encode)
            }
        }
    )*};
}

binds!(sqlx::Sqlite, sqlx::Postgres);

/// SQL text with its bound values; see the module documentation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Statement {
    text: String,
    binds: Vec<Bind>,
}

impl Statement {
    /// A statement starting with `text`, which names its own parameters (`$1`, ...); give
    /// their values in order with [`Statement::bind`].
    pub(crate) fn new(text: &str) -> Statement {
        Statement {
            text: text.to_owned(),
            ..Statement::default()
        }
    }

    /// A statement for SQLite whose text starts with `text` and numbers nothing: each `$1` of
    /// `text` becomes an anonymous `?` bound to `first` (for [`Statement::push_values_rows`]).
    pub(crate) fn anonymous(text: &str, first: Option<&str>) -> Statement {
        debug_assert!(
            text.match_indices('$').all(|(at, _)| {
                text[at..].starts_with("$1")
                    && !text[at + 2..].starts_with(|c: char| c.is_ascii_digit())
            }),
            "no numbered parameter but $1"
        );
        let mut statement = Statement::new(&text.replace("$1", "?"));
        if let Some(first) = first {
            for _ in text.matches("$1") {
                statement.binds.push(first.into());
            }
        }
        statement
    }

    /// Appends text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Statement {
        self.text.push_str(text);
        self
    }

    /// Binds the value of the next parameter the text already names.
    pub(crate) fn bind(mut self, value: impl Into<Bind>) -> Statement {
        self.binds.push(value.into());
        self
    }

    /// Appends a new parameter's placeholder (`$N`, one past the last) and binds its value.
    pub(crate) fn push_bind(&mut self, value: impl Into<Bind>) -> &mut Statement {
        self.binds.push(value.into());
        self.text.push_str(&format!("${}", self.binds.len()));
        self
    }

    /// Appends a row source named `name` whose rows are the objects of the JSON array `json`,
    /// one column per key of `columns`: `json_to_recordset` on PostgreSQL, `jsonb_each` on
    /// SQLite. One parameter carries any number of rows, so the text never changes with the
    /// number of rows and is prepared once per connection. (`jsonb_each`, not `json_each`:
    /// the latter hands each row's object to `json_extract` as text, which parses it again
    /// for every column; that was about 8% of the flusher's CPU.)
    pub(crate) fn push_json_rows(
        &mut self,
        backend: Backend,
        name: &str,
        columns: &[(&str, SqlType)],
        json: String,
    ) -> &mut Statement {
        match backend {
            Backend::Postgres => {
                self.push("json_to_recordset(CAST(")
                    .push_bind(json)
                    .push(" AS json)) AS ");
                let types: Vec<String> = columns
                    .iter()
                    .map(|(column, kind)| format!("{column} {}", kind.postgres()))
                    .collect();
                self.push(&format!("{name} ({})", types.join(", ")))
            }
            Backend::Sqlite => {
                let values: Vec<String> = columns
                    .iter()
                    .map(|(column, _)| format!("json_extract(value, '$.{column}') AS {column}"))
                    .collect();
                self.push(&format!("(SELECT {} FROM jsonb_each(", values.join(", ")))
                    .push_bind(json)
                    .push(&format!(")) AS {name}"))
            }
        }
    }

    /// Appends a row source named `name` (SQLite only) whose rows are a multi-row `VALUES`
    /// list of bound values, one column per name of `columns`, each row's values in that
    /// order: `(SELECT column1 AS a, column2 AS b FROM (VALUES (?, ?), (?, ?))) AS name`.
    /// The values reach SQLite as typed parameters, with nothing to parse; the text changes
    /// with the number of rows, so callers send rows in a few fixed counts
    /// ([`sqlite_chunks`]), each text prepared once per connection.
    ///
    /// The placeholders are anonymous (`?`), so every parameter before them in the text must be
    /// too (see [`Statement::anonymous`]): sqlx binds `?` by its own count of them. A `$N` would
    /// be a *named* parameter to SQLite, and with thousands of them each bind scans the list of
    /// names (`sqlite3_bind_parameter_name`): quadratic, half the flusher's time at 256 rows.
    pub(crate) fn push_values_rows<R>(
        &mut self,
        name: &str,
        columns: &[&str],
        rows: impl IntoIterator<Item = R>,
    ) -> &mut Statement
    where
        R: IntoIterator<Item = Bind>,
    {
        use std::fmt::Write as _;
        debug_assert!(
            !self.text.contains('$'),
            "anonymous placeholders after a numbered one would bind the wrong values"
        );
        self.text.push_str("(SELECT ");
        for (n, column) in columns.iter().enumerate() {
            let comma = if n == 0 { "" } else { ", " };
            let _ = write!(self.text, "{comma}column{} AS {column}", n + 1);
        }
        self.text.push_str(" FROM (VALUES ");
        for (r, row) in rows.into_iter().enumerate() {
            self.text.push_str(if r == 0 { "(" } else { ", (" });
            for (n, value) in row.into_iter().enumerate() {
                self.binds.push(value);
                self.text.push_str(if n == 0 { "?" } else { ", ?" });
            }
            self.text.push(')');
        }
        let _ = write!(self.text, ")) AS {name}");
        self
    }

    /// The text and its arguments for `DB`: the one place values are bound.
    fn parts<DB: Binds>(self) -> Result<(AssertSqlSafe<String>, DB::Arguments), sqlx::Error> {
        let mut arguments = DB::Arguments::default();
        for bind in self.binds {
            DB::add(&mut arguments, bind)?;
        }
        Ok((AssertSqlSafe(self.text), arguments))
    }

    /// The statement as a query on `DB` that returns no rows (or whose rows are not read).
    pub(crate) fn query<DB: Binds>(self) -> Result<Query<'static, DB, DB::Arguments>, sqlx::Error> {
        let (text, arguments) = self.parts::<DB>()?;
        Ok(sqlx::query_with(text, arguments))
    }

    /// The statement as a query on `DB` reading rows into `R`.
    pub(crate) fn query_as<DB: Binds, R>(
        self,
    ) -> Result<QueryAs<'static, DB, R, DB::Arguments>, sqlx::Error>
    where
        R: for<'r> FromRow<'r, DB::Row>,
    {
        let (text, arguments) = self.parts::<DB>()?;
        Ok(sqlx::query_as_with(text, arguments))
    }

    /// The statement as a query on `DB` reading the first column of each row.
    pub(crate) fn query_scalar<DB: Binds, O>(
        self,
    ) -> Result<QueryScalar<'static, DB, O, DB::Arguments>, sqlx::Error>
    where
        (O,): for<'r> FromRow<'r, DB::Row>,
    {
        let (text, arguments) = self.parts::<DB>()?;
        Ok(sqlx::query_scalar_with(text, arguments))
    }

    /// Runs the statement; the number of rows it changed.
    pub(crate) async fn execute(self, store: &Store) -> Result<u64, sqlx::Error> {
        Ok(on_pool!(store, pool => self.query()?.execute(pool).await?.rows_affected()))
    }

    /// Every row the statement returns.
    pub(crate) async fn fetch_all<R: Record>(self, store: &Store) -> Result<Vec<R>, sqlx::Error> {
        on_pool!(store, pool => self.query_as()?.fetch_all(pool).await)
    }

    /// The one row the statement returns; an error when there is none.
    pub(crate) async fn fetch_one<R: Record>(self, store: &Store) -> Result<R, sqlx::Error> {
        on_pool!(store, pool => self.query_as()?.fetch_one(pool).await)
    }

    /// The first row the statement returns, if any.
    pub(crate) async fn fetch_optional<R: Record>(
        self,
        store: &Store,
    ) -> Result<Option<R>, sqlx::Error> {
        on_pool!(store, pool => self.query_as()?.fetch_optional(pool).await)
    }

    /// The first column of the one row the statement returns (a count, an id).
    pub(crate) async fn fetch_scalar<O>(self, store: &Store) -> Result<O, sqlx::Error>
    where
        (O,): Record,
        O: Send + Unpin,
    {
        on_pool!(store, pool => self.query_scalar()?.fetch_one(pool).await)
    }

    /// Runs the statement in `tx`; the number of rows it changed.
    pub(crate) async fn execute_in(self, tx: &mut Transaction) -> Result<u64, sqlx::Error> {
        Ok(on_tx!(tx, conn => self.query()?.execute(conn).await?.rows_affected()))
    }

    /// Every row the statement returns, in `tx`.
    pub(crate) async fn fetch_all_in<R: Record>(
        self,
        tx: &mut Transaction,
    ) -> Result<Vec<R>, sqlx::Error> {
        on_tx!(tx, conn => self.query_as()?.fetch_all(conn).await)
    }

    /// The first column of every row the statement returns, in `tx`.
    pub(crate) async fn fetch_scalars_in<O>(
        self,
        tx: &mut Transaction,
    ) -> Result<Vec<O>, sqlx::Error>
    where
        (O,): Record,
        O: Send + Unpin,
    {
        on_tx!(tx, conn => self.query_scalar()?.fetch_all(conn).await)
    }

    /// The rows as the database reads them, holding one pooled connection until the stream
    /// ends or is dropped: memory stays bounded whatever the number of rows.
    pub(crate) fn fetch<'a, R: Record + 'a>(
        self,
        store: &'a Store,
    ) -> BoxStream<'a, Result<R, sqlx::Error>> {
        let rows = on_pool!(store, pool => match self.query_as() {
            Ok(query) => query.fetch(pool),
            Err(error) => futures_util::stream::once(async { Err(error) }).boxed(),
        });
        rows.into_stream().boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_go_in_full_chunks_then_falling_powers_of_two() {
        for rows in [0, 1, 2, 3, 255, 256, 257, 1000, 2048, 4097] {
            let chunks: Vec<std::ops::Range<usize>> = sqlite_chunks(rows).collect();
            let mut next = 0;
            for chunk in &chunks {
                assert_eq!(chunk.start, next, "{rows} rows: {chunks:?}");
                assert!(!chunk.is_empty(), "{rows} rows: {chunks:?}");
                next = chunk.end;
            }
            assert_eq!(next, rows, "{rows} rows: every row once");
            let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
            let rest: Vec<usize> = sizes
                .iter()
                .copied()
                .filter(|&s| s < SQLITE_VALUES_ROWS)
                .collect();
            assert!(
                rest.iter().all(|s| s.is_power_of_two()) && rest.windows(2).all(|w| w[0] > w[1]),
                "{rows} rows: {sizes:?}"
            );
            assert_eq!(sizes.len(), rows / SQLITE_VALUES_ROWS + rest.len());
        }
    }

    #[test]
    fn values_rows_are_anonymous_parameters_after_the_first_ones() {
        let mut st = Statement::anonymous("INSERT INTO t SELECT $1, r.a, r.b FROM ", Some("c1"));
        st.push_values_rows(
            "r",
            &["a", "b"],
            [
                [Bind::Int4(1), Bind::Text("x".into())],
                [Bind::Int4(2), Bind::Text("y".into())],
            ],
        )
        .push(" WHERE true ON CONFLICT DO NOTHING");
        assert_eq!(
            st.text,
            "INSERT INTO t SELECT ?, r.a, r.b FROM (SELECT column1 AS a, column2 AS b FROM \
             (VALUES (?, ?), (?, ?))) AS r WHERE true ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            st.binds,
            [
                Bind::Text("c1".into()),
                Bind::Int4(1),
                Bind::Text("x".into()),
                Bind::Int4(2),
                Bind::Text("y".into())
            ]
        );
    }
}
