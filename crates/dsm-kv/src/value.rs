//! Variables handles and values.

use std::fmt;

/// A handle on a variable of the distributed memory.
///
/// It is a small `Copy` value naming the variable's descriptor (the host rank
/// and descriptor index) and its generation. Any rank may use a handle
/// created by another: send it with [`to_words`](Var::to_words) /
/// [`from_words`](Var::from_words) (two `i64`s, e.g. by `MPI_Bcast`).
///
/// Once the variable is freed, the descriptor's generation changes, so a stale
/// handle never reaches another variable's data: operations on it report
/// [`Error::Freed`](crate::Error::Freed) (or `false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var {
    pub(crate) host: u32,
    pub(crate) index: u32,
    pub(crate) gen: u32,
}

impl Var {
    /// The handle as two `i64`s, for sending it to other ranks.
    pub fn to_words(self) -> [i64; 2] {
        [
            ((self.host as i64) << 32) | self.index as i64,
            self.gen as i64,
        ]
    }

    /// The handle from [`to_words`](Var::to_words). Any pair of words gives a
    /// handle; one that names no variable is refused by the operations.
    pub fn from_words(words: [i64; 2]) -> Var {
        Var {
            host: (words[0] >> 32) as u32,
            index: words[0] as u32,
            gen: words[1] as u32,
        }
    }

    /// The rank of the host that keeps the variable's descriptor.
    pub fn host(self) -> i32 {
        self.host as i32
    }
}

impl fmt::Display for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "variable {}:{} (generation {})",
            self.host, self.index, self.gen
        )
    }
}

/// A value of the distributed memory: an integer or a list of integers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// A single `i64`.
    Int(i64),
    /// A list of `i64`, possibly split across several hosts.
    List(Vec<i64>),
}

impl Value {
    /// The integer, if this is an [`Value::Int`].
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(v) => Some(*v),
            Value::List(_) => None,
        }
    }

    /// The list, if this is a [`Value::List`].
    pub fn as_list(&self) -> Option<&[i64]> {
        match self {
            Value::Int(_) => None,
            Value::List(v) => Some(v),
        }
    }

    /// The elements: the list, or the integer as a list of one.
    pub fn into_vec(self) -> Vec<i64> {
        match self {
            Value::Int(v) => vec![v],
            Value::List(v) => v,
        }
    }

    /// The number of elements (1 for an integer).
    pub fn len(&self) -> usize {
        match self {
            Value::Int(_) => 1,
            Value::List(v) => v.len(),
        }
    }

    /// `true` for an empty list.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<Vec<i64>> for Value {
    fn from(v: Vec<i64>) -> Value {
        Value::List(v)
    }
}

impl From<&[i64]> for Value {
    fn from(v: &[i64]) -> Value {
        Value::List(v.to_vec())
    }
}

impl<const N: usize> From<[i64; N]> for Value {
    fn from(v: [i64; N]) -> Value {
        Value::List(v.to_vec())
    }
}

/// Formats like Python: `42` or `[1, 2, 3]`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::List(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// One contiguous piece of a list: `len` slots from `start` on host `host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Extent {
    /// The rank of the host.
    pub host: i32,
    /// The first data slot on that host.
    pub start: usize,
    /// The number of slots.
    pub len: usize,
}
