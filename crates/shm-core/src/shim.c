/* Implementation-specific MPI constants that rsmpi's mpi::ffi does not
 * export, as objects with stable names (src/sys.rs reads them).
 *
 * mpi.h defines these as macros; their values are integers in MPICH and
 * addresses of library objects in Open MPI. Compiling this file with the MPI
 * compiler wrapper resolves them for whichever implementation we link. */
#include <mpi.h>

const MPI_Op SHM_MPI_REPLACE = MPI_REPLACE;
const MPI_Op SHM_MPI_NO_OP = MPI_NO_OP;
const MPI_Datatype SHM_MPI_BYTE = MPI_BYTE;
const MPI_Errhandler SHM_MPI_ERRHANDLER_NULL = MPI_ERRHANDLER_NULL;
const int SHM_MPI_WIN_MODEL = MPI_WIN_MODEL;
const int SHM_MPI_WIN_UNIFIED = MPI_WIN_UNIFIED;
const int SHM_MPI_WIN_SEPARATE = MPI_WIN_SEPARATE;

/* Which MPI this crate is compiled against, for the check at start-up that
 * the library loaded is the same one (shm_core::check_mpi_library). Intel
 * MPI defines MPICH_VERSION too, so it is asked first. */
#define SHM_STR2(x) #x
#define SHM_STR(x) SHM_STR2(x)
#if defined(I_MPI_VERSION)
const char SHM_MPI_BUILT_NAME[] = "Intel(R) MPI Library";
const char SHM_MPI_BUILT_VERSION[] = I_MPI_VERSION;
#elif defined(OMPI_MAJOR_VERSION)
const char SHM_MPI_BUILT_NAME[] = "Open MPI";
const char SHM_MPI_BUILT_VERSION[] = SHM_STR(OMPI_MAJOR_VERSION) "." SHM_STR(OMPI_MINOR_VERSION) "." SHM_STR(OMPI_RELEASE_VERSION);
#elif defined(MPICH_VERSION)
const char SHM_MPI_BUILT_NAME[] = "MPICH";
const char SHM_MPI_BUILT_VERSION[] = MPICH_VERSION;
#else
const char SHM_MPI_BUILT_NAME[] = "";
const char SHM_MPI_BUILT_VERSION[] = "";
#endif
