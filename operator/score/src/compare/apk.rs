//! Alpine (apk-tools) versions: `number{.number}[letter]{_suffix[number]}[-r#]`,
//! ordered as apk's `apk_version_compare` does (Alpine, Wolfi, Chainguard).
//! Pre-release suffixes (`_alpha`, `_beta`, `_pre`, `_rc`) sort before the
//! release, post-release ones (`_cvs`, `_svn`, `_git`, `_hg`, `_p`) after it.

use std::cmp::Ordering;

use crate::version::VersionError;

#[derive(Debug, Clone)]
pub struct Apk(String);

/// apk's token types, in its order: a version that goes on with a token of
/// a lower type than the other's next one is the greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE_SUFFIXES: [&str; 4] = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES: [&str; 5] = ["cvs", "svn", "git", "hg", "p"];

struct Cursor<'a> {
    rest: &'a [u8],
    token: Token,
}

impl Cursor<'_> {
    /// apk's `next_token`: the type of the token at the cursor, consuming its separator.
    fn next_token(&mut self) {
        let previous = self.token;
        let mut next = Token::Invalid;
        match self.rest.first() {
            None => next = Token::End,
            Some(&c)
                if matches!(previous, Token::Digit | Token::DigitOrZero)
                    && c.is_ascii_lowercase() =>
            {
                next = Token::Letter;
            }
            Some(&c) if previous == Token::Letter && c.is_ascii_digit() => next = Token::Digit,
            Some(&c) if previous == Token::Suffix && c.is_ascii_digit() => next = Token::SuffixNo,
            Some(&c) => {
                match c {
                    b'.' => next = Token::DigitOrZero,
                    b'_' => next = Token::Suffix,
                    b'-' if self.rest.get(1) == Some(&b'r') => {
                        next = Token::RevisionNo;
                        self.rest = &self.rest[1..];
                    }
                    _ => {}
                }
                self.rest = &self.rest[1..];
            }
        }
        if next < previous
            && !matches!(
                (next, previous),
                (Token::DigitOrZero, Token::Digit)
                    | (Token::Suffix, Token::SuffixNo)
                    | (Token::Digit, Token::Letter)
            )
        {
            next = Token::Invalid;
        }
        self.token = next;
    }

    /// apk's `get_token`: the value of the token at the cursor; moves to the next.
    fn get_token(&mut self) -> i128 {
        let value: i128;
        let mut consumed = 0;
        let mut next = Token::Invalid;
        let digits = |bytes: &[u8], from: usize| -> (i128, usize) {
            let mut v: i128 = 0;
            let mut i = from;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                v = v
                    .saturating_mul(10)
                    .saturating_add(i128::from(bytes[i] - b'0'));
                i += 1;
            }
            (v, i)
        };
        if self.rest.is_empty() {
            self.token = Token::End;
            return 0;
        }
        match self.token {
            Token::DigitOrZero if self.rest[0] == b'0' => {
                // A component with leading zeros compares like a fraction: `1.01` < `1.1`.
                while consumed < self.rest.len() && self.rest[consumed] == b'0' {
                    consumed += 1;
                }
                next = Token::Digit;
                value = -(consumed as i128);
            }
            Token::DigitOrZero | Token::Digit | Token::SuffixNo | Token::RevisionNo => {
                let (v, end) = digits(self.rest, 0);
                // apk refuses numbers of 18 digits or more (they would overflow its int64).
                if end >= 18 {
                    self.token = Token::Invalid;
                    return -1;
                }
                value = v;
                consumed = end;
            }
            Token::Letter => {
                value = i128::from(self.rest[0]);
                consumed = 1;
            }
            Token::Suffix => {
                let text = self.rest;
                if let Some(i) = PRE_SUFFIXES
                    .iter()
                    .position(|s| text.starts_with(s.as_bytes()))
                {
                    consumed = PRE_SUFFIXES[i].len();
                    value = i as i128 - PRE_SUFFIXES.len() as i128;
                } else if let Some(i) = POST_SUFFIXES
                    .iter()
                    .position(|s| text.starts_with(s.as_bytes()))
                {
                    consumed = POST_SUFFIXES[i].len();
                    value = i as i128;
                } else {
                    self.token = Token::Invalid;
                    return -1;
                }
            }
            Token::Invalid | Token::End => {
                self.token = Token::Invalid;
                return -1;
            }
        }
        self.rest = &self.rest[consumed..];
        if self.rest.is_empty() {
            self.token = Token::End;
        } else if next != Token::Invalid {
            self.token = next;
        } else {
            self.next_token();
        }
        value
    }
}

impl Apk {
    /// Accepts what apk's `apk_version_validate` accepts.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        let mut cursor = Cursor {
            rest: text.as_bytes(),
            token: Token::Digit,
        };
        while cursor.token != Token::End && cursor.token != Token::Invalid {
            cursor.get_token();
        }
        if cursor.token == Token::Invalid {
            return Err(VersionError::Apk);
        }
        Ok(Self(text.to_string()))
    }
}

impl Ord for Apk {
    fn cmp(&self, other: &Self) -> Ordering {
        let mut a = Cursor {
            rest: self.0.as_bytes(),
            token: Token::Digit,
        };
        let mut b = Cursor {
            rest: other.0.as_bytes(),
            token: Token::Digit,
        };
        let (mut av, mut bv) = (0, 0);
        while a.token == b.token && a.token != Token::End && a.token != Token::Invalid && av == bv {
            av = a.get_token();
            bv = b.get_token();
        }
        if av != bv {
            return av.cmp(&bv);
        }
        if a.token == b.token {
            return Ordering::Equal;
        }
        // Equal so far: the longer version is greater, unless it goes on with
        // a pre-release suffix.
        let (at, bt) = (a.token, b.token);
        if at == Token::Suffix && a.get_token() < 0 {
            return Ordering::Less;
        }
        if bt == Token::Suffix && b.get_token() < 0 {
            return Ordering::Greater;
        }
        bt.cmp(&at)
    }
}

impl PartialOrd for Apk {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Apk {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Apk {}
