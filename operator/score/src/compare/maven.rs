//! Maven versions, ordered as Maven's `ComparableVersion` (3.8) does: items
//! split at `.`, `-` and digit/letter transitions, nested lists at `-`,
//! trailing "null" items (`0`, `""`, `final`, `ga`, `release`) dropped, and
//! the qualifier order `alpha` < `beta` < `milestone` < `rc` = `cr` <
//! `snapshot` < `""` = `ga` = `final` = `release` < `sp` < other qualifiers
//! (lexically). `1-1` (a list) is before `1.1` (a number).

use std::cmp::Ordering;

use super::cmp_digits;
use crate::version::VersionError;

#[derive(Debug, Clone)]
pub struct Maven(Vec<Item>);

#[derive(Debug, Clone)]
enum Item {
    /// Digits without leading zeros (`"0"` for zero).
    Int(String),
    /// The qualifier's comparable form (see [`comparable`]).
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
/// The index of `""` in [`QUALIFIERS`]: what a release compares as.
const RELEASE: &str = "5";

/// `ComparableVersion.StringItem.comparableQualifier`, with the aliases
/// applied: known qualifiers are their index, others `7-` + the qualifier.
fn comparable(qualifier: &str, followed_by_digit: bool) -> String {
    let qualifier = match qualifier {
        "a" if followed_by_digit => "alpha",
        "b" if followed_by_digit => "beta",
        "m" if followed_by_digit => "milestone",
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    match QUALIFIERS.iter().position(|q| *q == qualifier) {
        Some(i) => i.to_string(),
        None => format!("{}-{qualifier}", QUALIFIERS.len()),
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(digits) => digits == "0",
            Item::Str(q) => q == RELEASE,
            Item::List(items) => items.is_empty(),
        }
    }

    /// `Item.compareTo`; `None` is the missing item of a shorter list.
    fn compare(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(d), None) => {
                if d == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => cmp_digits(a, b),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(q), None) => q.as_str().cmp(RELEASE),
            (Item::Str(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => a.cmp(b),
            (Item::Str(_), Some(Item::List(_))) => Ordering::Less,
            (Item::List(items), None) => match items.first() {
                None => Ordering::Equal,
                Some(first) => first.compare(None),
            },
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => compare_lists(a, b),
        }
    }
}

fn compare_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let order = match (a.get(i), b.get(i)) {
            (Some(l), r) => l.compare(r),
            (None, Some(r)) => r.compare(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// `ListItem.normalize`: drops trailing null items, stopping at the first
/// non-null item that is not a list.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

fn int(digits: &str) -> Item {
    let trimmed = digits.trim_start_matches('0');
    Item::Int(if trimmed.is_empty() { "0" } else { trimmed }.to_string())
}

fn parse_item(is_digit: bool, text: &str) -> Item {
    if is_digit {
        int(text)
    } else {
        Item::Str(comparable(text, false))
    }
}

impl Maven {
    /// `ComparableVersion.parseVersion`: every string is a version.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        if text.is_empty() {
            return Err(VersionError::Empty);
        }
        let lower = text.to_lowercase();
        // The open lists, innermost last; each is appended to its parent when closed.
        let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
        let chars: Vec<(usize, char)> = lower.char_indices().collect();
        let mut is_digit = false;
        let mut start = 0;
        let push_list = |stack: &mut Vec<Vec<Item>>| stack.push(Vec::new());
        for &(i, c) in &chars {
            let list = stack
                .last_mut()
                .expect("the root list is never popped here");
            if c == '.' {
                list.push(if i == start {
                    int("0")
                } else {
                    parse_item(is_digit, &lower[start..i])
                });
                start = i + 1;
            } else if c == '-' {
                list.push(if i == start {
                    int("0")
                } else {
                    parse_item(is_digit, &lower[start..i])
                });
                start = i + 1;
                push_list(&mut stack);
            } else if c.is_ascii_digit() {
                if !is_digit && i > start {
                    // `.X1` is `-X1` for any qualifier X (1.0.0.X1 < 1.0.0-X2).
                    if !list.is_empty() {
                        push_list(&mut stack);
                    }
                    let list = stack.last_mut().expect("just pushed, or the root");
                    list.push(Item::Str(comparable(&lower[start..i], true)));
                    start = i;
                    push_list(&mut stack);
                }
                is_digit = true;
            } else {
                if is_digit && i > start {
                    list.push(int(&lower[start..i]));
                    start = i;
                    push_list(&mut stack);
                }
                is_digit = false;
            }
        }
        if lower.len() > start {
            // A trailing `.X` is `-X` too.
            if !is_digit && !stack.last().is_none_or(Vec::is_empty) {
                push_list(&mut stack);
            }
            let list = stack
                .last_mut()
                .expect("the root list is never popped here");
            list.push(parse_item(is_digit, &lower[start..]));
        }
        // Close the lists innermost first, normalising each as Maven does
        // when it pops its stack.
        while stack.len() > 1 {
            let mut list = stack.pop().expect("len > 1");
            normalize(&mut list);
            stack
                .last_mut()
                .expect("len was > 1")
                .push(Item::List(list));
        }
        let mut root = stack.pop().expect("the root list");
        normalize(&mut root);
        Ok(Self(root))
    }
}

impl Ord for Maven {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_lists(&self.0, &other.0)
    }
}

impl PartialOrd for Maven {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Maven {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Maven {}
