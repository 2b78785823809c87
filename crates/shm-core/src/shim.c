/* Implementation-specific MPI constants, exported as objects with stable names.
 *
 * mpi.h defines these as macros; their values are integers in MPICH and
 * addresses of library objects in Open MPI. Compiling this file with the MPI
 * compiler wrapper resolves them for whichever implementation we link. */
#include <mpi.h>

const MPI_Op SHM_MPI_REPLACE = MPI_REPLACE;
const MPI_Op SHM_MPI_NO_OP = MPI_NO_OP;
const MPI_Op SHM_MPI_SUM = MPI_SUM;
const MPI_Op SHM_MPI_PROD = MPI_PROD;
const MPI_Op SHM_MPI_MIN = MPI_MIN;
const MPI_Op SHM_MPI_MAX = MPI_MAX;
const MPI_Op SHM_MPI_BAND = MPI_BAND;
const MPI_Op SHM_MPI_BOR = MPI_BOR;
const MPI_Op SHM_MPI_BXOR = MPI_BXOR;

const MPI_Datatype SHM_MPI_BYTE = MPI_BYTE;
const MPI_Datatype SHM_MPI_INT64_T = MPI_INT64_T;
const MPI_Info SHM_MPI_INFO_NULL = MPI_INFO_NULL;
const MPI_Win SHM_MPI_WIN_NULL = MPI_WIN_NULL;
const MPI_Comm SHM_MPI_COMM_NULL = MPI_COMM_NULL;
const MPI_Errhandler SHM_MPI_ERRORS_RETURN = MPI_ERRORS_RETURN;
const MPI_Errhandler SHM_MPI_ERRHANDLER_NULL = MPI_ERRHANDLER_NULL;

const int SHM_MPI_SUCCESS = MPI_SUCCESS;
const int SHM_MPI_LOCK_EXCLUSIVE = MPI_LOCK_EXCLUSIVE;
const int SHM_MPI_LOCK_SHARED = MPI_LOCK_SHARED;
const int SHM_MPI_MODE_NOCHECK = MPI_MODE_NOCHECK;
const int SHM_MPI_MODE_NOSTORE = MPI_MODE_NOSTORE;
const int SHM_MPI_MODE_NOPUT = MPI_MODE_NOPUT;
const int SHM_MPI_MODE_NOPRECEDE = MPI_MODE_NOPRECEDE;
const int SHM_MPI_MODE_NOSUCCEED = MPI_MODE_NOSUCCEED;
const int SHM_MPI_WIN_MODEL = MPI_WIN_MODEL;
const int SHM_MPI_WIN_UNIFIED = MPI_WIN_UNIFIED;
const int SHM_MPI_WIN_SEPARATE = MPI_WIN_SEPARATE;
const int SHM_MPI_MAX_ERROR_STRING = MPI_MAX_ERROR_STRING;
const int SHM_MPI_ANY_SOURCE = MPI_ANY_SOURCE;
const int SHM_MPI_ANY_TAG = MPI_ANY_TAG;
const int SHM_MPI_UNDEFINED = MPI_UNDEFINED;
const int SHM_MPI_COMM_TYPE_SHARED = MPI_COMM_TYPE_SHARED;
const int SHM_MPI_THREAD_MULTIPLE = MPI_THREAD_MULTIPLE;

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
