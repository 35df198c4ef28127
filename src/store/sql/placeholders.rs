//! SQLite's `?N` placeholders as PostgreSQL's `$N`.
//!
//! The store writes SQL once with `?1..?N`. PostgreSQL numbers its
//! parameters `$1..$N` (and reads `?` as an operator), so its variant
//! rewrites every `?` followed by digits, except inside string literals,
//! quoted identifiers and comments. The store writes neither dollar-quoted
//! strings nor backslash escapes, so these are all the quoting there is.

/// `sql` with each `?N` outside quotes and comments written `$N`.
pub(super) fn dollar_numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '\'' | '"' => {
                // A doubled quote inside closes and reopens: the same text.
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut last = '/';
                for inner in chars.by_ref() {
                    out.push(inner);
                    if last == '*' && inner == '/' {
                        break;
                    }
                    last = inner;
                }
            }
            '?' if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.pop();
                out.push('$');
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::dollar_numbered;

    #[test]
    fn numbered_placeholders_become_dollar_numbered() {
        assert_eq!(
            dollar_numbered("SELECT a FROM t WHERE a = ?1 AND (?2 IS NULL OR b < ?12) LIMIT ?3"),
            "SELECT a FROM t WHERE a = $1 AND ($2 IS NULL OR b < $12) LIMIT $3"
        );
    }

    #[test]
    fn placeholders_inside_quotes_and_comments_stay_as_written() {
        assert_eq!(
            dollar_numbered("SELECT '?1', 'it''s ?2', \"?3\" -- ?4\n, ?5 /* ?6 */ FROM t WHERE x = ?7"),
            "SELECT '?1', 'it''s ?2', \"?3\" -- ?4\n, $5 /* ?6 */ FROM t WHERE x = $7"
        );
    }

    #[test]
    fn a_question_mark_without_a_number_is_left_alone() {
        assert_eq!(
            dollar_numbered("SELECT ? , a ?| b, '$.x.\"' || ?1 || '\"'"),
            "SELECT ? , a ?| b, '$.x.\"' || $1 || '\"'"
        );
    }

    #[test]
    fn a_minus_sign_or_a_slash_is_not_a_comment() {
        assert_eq!(dollar_numbered("SELECT ?1 - ?2, ?3 / ?4"), "SELECT $1 - $2, $3 / $4");
    }
}
