//! Where SQLite and PostgreSQL need different SQL: one helper per
//! construct, each writing the expression for the engine at hand. JSON
//! columns are TEXT on both engines.

/// The engine a [`super::Conn`] speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The statement that opens a write transaction. SQLite takes its
    /// write lock at once, so a group commit never fails half-way for
    /// want of it.
    pub(in crate::store) fn begin_write(self) -> &'static str {
        match self {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        }
    }
}

/// One step of a path into a JSON document.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// A fixed key: letters, digits and `_` only.
    Name(&'a str),
    /// The key held by parameter `?N`.
    Param(usize),
}

/// The text at `path` in the JSON held by `column`; NULL when absent (or
/// JSON null). On SQLite a number comes back as a number.
pub fn json_text(dialect: Dialect, column: &str, path: &[Key<'_>]) -> String {
    match dialect {
        Dialect::Sqlite => {
            let mut steps = String::from("'$");
            for key in path {
                match key {
                    Key::Name(name) => {
                        debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                        steps.push('.');
                        steps.push_str(name);
                    }
                    Key::Param(n) => steps.push_str(&format!(".\"' || ?{n} || '\"")),
                }
            }
            format!("json_extract({column}, {steps}')")
        }
        Dialect::Postgres => {
            let steps: Vec<String> = path
                .iter()
                .map(|key| match key {
                    Key::Name(name) => {
                        debug_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
                        format!("'{name}'")
                    }
                    Key::Param(n) => format!("CAST(?{n} AS TEXT)"),
                })
                .collect();
            format!("(CAST({column} AS JSON) #>> ARRAY[{}]::TEXT[])", steps.join(", "))
        }
    }
}

/// The integer at `path` in the JSON held by `column`.
pub fn json_int(dialect: Dialect, column: &str, path: &[Key<'_>]) -> String {
    match dialect {
        Dialect::Sqlite => json_text(dialect, column, path),
        Dialect::Postgres => format!("CAST({} AS BIGINT)", json_text(dialect, column, path)),
    }
}

/// The Unix seconds (whole, rounded down) of an RFC 3339 time held as text.
pub fn unix_seconds(dialect: Dialect, text: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("CAST(strftime('%s', {text}) AS INTEGER)"),
        Dialect::Postgres => format!("CAST(FLOOR(EXTRACT(EPOCH FROM CAST({text} AS TIMESTAMPTZ))) AS BIGINT)"),
    }
}

/// Where `needle` first occurs in `haystack` (from 1), or 0.
pub fn position(dialect: Dialect, needle: &str, haystack: &str) -> String {
    match dialect {
        Dialect::Sqlite => format!("instr({haystack}, {needle})"),
        Dialect::Postgres => format!("strpos({haystack}, {needle})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_are_written_for_each_engine() {
        let path = [Key::Name("target"), Key::Name("request_id")];
        assert_eq!(
            json_text(Dialect::Sqlite, "e.event_json", &path),
            "json_extract(e.event_json, '$.target.request_id')"
        );
        assert_eq!(
            json_text(Dialect::Postgres, "e.event_json", &path),
            "(CAST(e.event_json AS JSON) #>> ARRAY['target', 'request_id']::TEXT[])"
        );
    }

    #[test]
    fn a_json_key_may_come_from_a_parameter() {
        let path = [Key::Name("scope"), Key::Param(1)];
        assert_eq!(json_int(Dialect::Sqlite, "j", &path), "json_extract(j, '$.scope.\"' || ?1 || '\"')");
        assert_eq!(
            json_int(Dialect::Postgres, "j", &path),
            "CAST((CAST(j AS JSON) #>> ARRAY['scope', CAST(?1 AS TEXT)]::TEXT[]) AS BIGINT)"
        );
    }
}
