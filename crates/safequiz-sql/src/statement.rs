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
//! take a batch differently (`UNNEST` of arrays against multi-row `VALUES`).

use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::postgres::PgRow;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::sqlite::SqliteRow;
use sqlx::{Arguments, AssertSqlSafe, Database, FromRow, IntoArguments};

use crate::Store;

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
    ctes: usize,
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

    /// Starts a common table expression: `WITH RECURSIVE` before the first, a comma after.
    pub(crate) fn cte(&mut self, head: &str) -> &mut Statement {
        self.text.push_str(if self.ctes == 0 {
            "WITH RECURSIVE "
        } else {
            ", "
        });
        self.ctes += 1;
        self.push(head)
    }

    /// Ends the list of common table expressions, if any.
    pub(crate) fn end_ctes(&mut self) -> &mut Statement {
        if self.ctes > 0 {
            self.text.push(' ');
        }
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
