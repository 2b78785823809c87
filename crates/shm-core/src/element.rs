//! Element types that can live in windows and shared arrays.

use mpi::datatype::Equivalence;
use mpi::ffi::MPI_Datatype;
use mpi::raw::AsRaw;

mod sealed {
    pub trait Sealed {}
}

/// A plain-old-data type with a predefined MPI datatype.
///
/// Implemented for `i8`, `i16`, `i32`, `i64`, `u8`, `u16`, `u32`, `u64`,
/// `f32` and `f64`. The trait is sealed: RMA accumulate operations and the
/// atomic calls are only defined by MPI for predefined datatypes, so a user
/// type could not be given a correct implementation.
pub trait Element:
    bytemuck::Pod
    + Equivalence
    + PartialEq
    + std::fmt::Debug
    + std::fmt::Display
    + Send
    + Sync
    + sealed::Sealed
{
    /// The numpy-style name used in `Display` output (`"float64"`, ...).
    const NAME: &'static str;
    /// A small number identifying the type, used to check that every rank of
    /// a collective call uses the same element type.
    const CODE: i64;
    /// `true` for integer types (the only ones `MPI_Compare_and_swap` and the
    /// bitwise operations accept).
    const INTEGER: bool;

    /// `value` converted with `as` (wrapping for narrow integers): how the
    /// toolkit's counters and tickets get their small constants.
    fn from_i64(value: i64) -> Self;

    /// The MPI datatype handle of this type.
    fn datatype() -> MPI_Datatype {
        Self::equivalent_datatype().as_raw()
    }
}

macro_rules! elements {
    ($($t:ty => $name:literal, $code:literal, $int:literal;)*) => {
        $(
            impl sealed::Sealed for $t {}
            impl Element for $t {
                const NAME: &'static str = $name;
                const CODE: i64 = $code;
                const INTEGER: bool = $int;
                fn from_i64(value: i64) -> Self {
                    value as $t
                }
            }
        )*
    };
}

elements! {
    i8 => "int8", 1, true;
    i16 => "int16", 2, true;
    i32 => "int32", 3, true;
    i64 => "int64", 4, true;
    u8 => "uint8", 5, true;
    u16 => "uint16", 6, true;
    u32 => "uint32", 7, true;
    u64 => "uint64", 8, true;
    f32 => "float32", 9, false;
    f64 => "float64", 10, false;
}
