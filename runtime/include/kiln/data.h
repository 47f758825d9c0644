/*===- kiln/data.h - kiln runtime data I/O C API -----------------*- C -*-===*\
|*                                                                            *|
|* Reading training data and writing results, for the programs that drive a   *|
|* compiled model:                                                            *|
|*   - element types (kiln_dtype_t) and a dense n-d array (kiln_array_t)      *|
|*     whose data is 64-byte aligned, ready to be copied into the io region;  *|
|*   - NumPy .npy files (load and save; numpy's np.load / np.save);           *|
|*   - IDX files (load; the format of the MNIST distribution);                *|
|*   - CSV files with a header row (load, into f32 features and labels).      *|
|*                                                                            *|
|* Conventions: arrays are dense and row-major (C order); shapes count        *|
|* elements and sizes count bytes. Every function that reads or writes a file *|
|* takes a `char *error, size_t error_size` buffer: on failure it receives a  *|
|* one-line, NUL-terminated English message that names the file, and the     *|
|* line (CSV) or byte offset where the problem is, e.g.                      *|
|*   "data.csv:17: expected 31 fields, got 30". Longer messages are truncated *|
|* to error_size - 1 bytes; on success the buffer is set to "". Pass NULL and *|
|* 0 to get no message. Results are written through `out_` parameters, which *|
|* come before the error buffer, and are set to NULL on failure.              *|
|*                                                                            *|
|* Byte order: the runtime supports little-endian hosts only (x86-64,         *|
|* AArch64), which is where kiln generates code for; Data.cpp refuses to      *|
|* compile for a big-endian target.                                           *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef KILN_DATA_H
#define KILN_DATA_H

#include "kiln/runtime.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*===----------------------------------------------------------------------===*\
|* Element types                                                              *|
\*===----------------------------------------------------------------------===*/

/// The element type of a kiln_array_t. The numeric values are part of the
/// ABI and never change; new types are appended.
typedef enum kiln_dtype_t {
  /// 32-bit IEEE-754 float (numpy '<f4'), 4 bytes.
  KILN_DTYPE_F32 = 0,
  /// 64-bit IEEE-754 float (numpy '<f8'), 8 bytes.
  KILN_DTYPE_F64 = 1,
  /// 32-bit two's-complement signed integer (numpy '<i4'), 4 bytes.
  KILN_DTYPE_I32 = 2,
  /// 64-bit two's-complement signed integer (numpy '<i8'), 8 bytes.
  KILN_DTYPE_I64 = 3,
  /// 8-bit unsigned integer (numpy '|u1'), 1 byte.
  KILN_DTYPE_U8 = 4,
  /// Boolean stored as one byte holding 0 (false) or 1 (true) (numpy '|b1').
  /// Other byte values are rejected by the loaders and by kiln_npy_save.
  KILN_DTYPE_BOOL = 5,
} kiln_dtype_t;

/// Returns the size in bytes of one element of `dtype` (4, 8, 4, 8, 1, 1 in
/// the order of the enum), or 0 for a value that is not a kiln_dtype_t.
/// Thread-safety: safe to call from any thread.
KILN_API size_t kiln_dtype_size(kiln_dtype_t dtype);

/// Returns the lower-case name of `dtype`: "f32", "f64", "i32", "i64", "u8",
/// "bool". Never NULL: a value that is not a kiln_dtype_t yields "unknown".
/// Ownership: the string is static; do not free it.
/// Thread-safety: safe to call from any thread.
KILN_API const char *kiln_dtype_name(kiln_dtype_t dtype);

/*===----------------------------------------------------------------------===*\
|* Arrays                                                                     *|
\*===----------------------------------------------------------------------===*/

/// Largest rank of a kiln_array_t; the length of kiln_array_t::shape.
#define KILN_MAX_RANK 8

/// A dense, row-major (C order) n-d array with rank 0 to KILN_MAX_RANK.
///
/// Arrays made by kiln_array_create and the loaders own their data, which is
/// 64-byte aligned (KILN_DEFAULT_ALIGNMENT) and never NULL, even when it
/// holds 0 bytes. Callers may read and write the elements but must not
/// change the other fields.
///
/// kiln_npy_save also accepts a kiln_array_t that the caller filled in to
/// describe its own memory (e.g. a tensor inside the io region), as long as
/// the fields are consistent; such an array must not be passed to
/// kiln_array_destroy.
///
/// Ownership: an array from kiln_array_create or a loader belongs to the
/// caller, who releases it (struct and data) with kiln_array_destroy.
/// Thread-safety: plain data; no internal synchronization.
typedef struct kiln_array_t {
  /// Element type.
  kiln_dtype_t dtype;
  /// Number of dimensions, 0 (a scalar of one element) to KILN_MAX_RANK.
  int32_t rank;
  /// Extent of each dimension (>= 0) in shape[0 .. rank-1], outermost first;
  /// the entries from index `rank` on are 0.
  int64_t shape[KILN_MAX_RANK];
  /// The elements, row-major: element (i0, ..., i{r-1}) is at linear index
  /// ((i0 * shape[1] + i1) * shape[2] + ...) + i{r-1}.
  void *data;
  /// Size of `data` in bytes: kiln_array_element_count(array) *
  /// kiln_dtype_size(dtype).
  size_t nbytes;
} kiln_array_t;

/// Allocates an array of `dtype` with dimensions shape[0 .. rank-1], with
/// every byte of its data set to zero (0, 0.0 or false), and stores it in
/// `*out_array`. `shape` may be NULL if rank is 0. A dimension may be 0, in
/// which case the array has no elements (its data is still non-NULL).
///
/// Errors: KILN_ERROR_INVALID_ARGUMENT if out_array is NULL, dtype is not a
/// kiln_dtype_t, rank is outside [0, KILN_MAX_RANK], shape is NULL with
/// rank > 0, or a dimension is negative; KILN_ERROR_OUT_OF_MEMORY if the
/// byte size does not fit in size_t or the allocation fails. On error
/// `*out_array` (if out_array is not NULL) is set to NULL.
/// Ownership: the caller owns the result and releases it with
/// kiln_array_destroy. `shape` is only read during the call.
/// Thread-safety: safe to call from any thread.
KILN_API kiln_status_t kiln_array_create(kiln_dtype_t dtype, int32_t rank,
                                         const int64_t *shape,
                                         kiln_array_t **out_array);

/// Releases an array from kiln_array_create or a loader, and its data. NULL
/// is accepted and ignored.
/// Thread-safety: the array must no longer be in use by any thread.
KILN_API void kiln_array_destroy(kiln_array_t *array);

/// Returns the number of elements of `array`: the product of
/// shape[0 .. rank-1], 1 for rank 0, 0 if any dimension is 0 or array is
/// NULL.
/// Thread-safety: safe to call from any thread.
KILN_API int64_t kiln_array_element_count(const kiln_array_t *array);

/*===----------------------------------------------------------------------===*\
|* NumPy .npy files                                                           *|
\*===----------------------------------------------------------------------===*/

/// Loads the array stored in the .npy file at `path` (the format written by
/// numpy.save, versions 1.0, 2.0 and 3.0; see numpy.lib.format) and stores it
/// in `*out_array`.
///
/// Header: a Python dict literal; the keys 'descr', 'fortran_order' and
/// 'shape' are required, other keys are skipped, and spacing and trailing
/// commas are free. Supported element types ('descr'), with the byte order
/// '<' (little-endian) or '=' (native); one-byte types accept any byte-order
/// character:
///   '<f4' -> KILN_DTYPE_F32   '<f8' -> KILN_DTYPE_F64
///   '<i4' -> KILN_DTYPE_I32   '<i8' -> KILN_DTYPE_I64
///   '|u1' -> KILN_DTYPE_U8    '|b1' -> KILN_DTYPE_BOOL
/// The array must be in C order ('fortran_order': False) with rank <=
/// KILN_MAX_RANK, and the file size must be exactly the header plus the
/// array's bytes. A bool array must hold only bytes 0 and 1.
///
/// Errors: KILN_ERROR_INVALID_ARGUMENT if path or out_array is NULL;
/// KILN_ERROR_IO if the file cannot be opened or read; KILN_ERROR_FORMAT if
/// it is not a valid .npy file or uses something unsupported: bad magic
/// string (e.g. an .npz archive), malformed header, big-endian ('>') or
/// other element types, Fortran order, rank above KILN_MAX_RANK, a file
/// shorter (truncated) or longer than the shape requires, a bool byte other
/// than 0 or 1; KILN_ERROR_OUT_OF_MEMORY if the array cannot be allocated.
/// Example messages: "x.npy: dtype '<f2' is not supported (supported: f32,
/// f64, i32, i64, u8, bool)", "x.npy: Fortran-order arrays are not
/// supported", "x.npy: truncated: the shape (100, 3) of f32 needs 1200
/// bytes of data after the 128-byte header, but the file has 1000".
/// Ownership: the caller owns the result (see kiln_array_create); `path` is
/// only read during the call.
/// Thread-safety: safe to call from any thread; calls share no state.
KILN_API kiln_status_t kiln_npy_load(const char *path, kiln_array_t **out_array,
                                     char *error, size_t error_size);

/// Writes `array` to `path` as a version 1.0 .npy file that numpy.load reads
/// back with the same dtype (see kiln_dtype_t for the numpy names), shape and
/// values. The header is byte-for-byte what numpy.save (numpy >= 1.23)
/// writes: its dict, spare spaces for the shape to grow, and padding so that
/// the data starts at a multiple of 64 bytes.
///
/// The write is atomic: the file is written to a new, uniquely named
/// temporary file "<path>.tmp.XXXXXX" (no existing file is touched), flushed
/// to disk (fsync) and renamed over `path`, so `path` holds either its old
/// contents or the whole new file, never a partial one. On failure the
/// temporary file is removed and `path` is left untouched.
///
/// `array` may come from kiln_array_create or a loader, or be filled in by
/// the caller (see kiln_array_t); it is only read.
///
/// Errors: KILN_ERROR_INVALID_ARGUMENT if path or array is NULL, or the
/// array is inconsistent (unknown dtype, rank outside [0, KILN_MAX_RANK], a
/// negative dimension, nbytes different from element count * element size,
/// NULL data with nbytes > 0, a bool element other than 0 or 1);
/// KILN_ERROR_IO if creating, writing, syncing or renaming the file fails
/// (e.g. "out/x.npy: cannot create out/x.npy.tmp.XXXXXX: No such file or
/// directory").
/// Thread-safety: safe to call from any thread; concurrent calls for the
/// same `path` each write a whole file and the last rename wins.
KILN_API kiln_status_t kiln_npy_save(const char *path,
                                     const kiln_array_t *array, char *error,
                                     size_t error_size);

/*===----------------------------------------------------------------------===*\
|* IDX files (MNIST)                                                          *|
\*===----------------------------------------------------------------------===*/

/// Loads the IDX file at `path` (the uncompressed format of the MNIST
/// distribution, e.g. train-images-idx3-ubyte) and stores it in `*out_array`
/// as a KILN_DTYPE_U8 array with the file's dimensions: [count, rows, cols]
/// for an image file (magic 0x00000803), [count] for a label file (magic
/// 0x00000801).
///
/// Format: a 4-byte big-endian magic number 0x0000TTNN, where TT is the data
/// type and NN (1 to KILN_MAX_RANK) the number of dimensions, then NN
/// big-endian 32-bit dimensions, then the data in row-major order. Only the
/// data type 0x08 (unsigned byte) is supported. The file size must be exactly
/// the header plus the product of the dimensions.
///
/// Errors: KILN_ERROR_INVALID_ARGUMENT if path or out_array is NULL;
/// KILN_ERROR_IO if the file cannot be opened or read; KILN_ERROR_FORMAT for
/// a bad magic number (including a still gzip-compressed file), another data
/// type (0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64), a rank of 0 or
/// above KILN_MAX_RANK, or a file shorter (truncated) or longer than the
/// dimensions require; KILN_ERROR_OUT_OF_MEMORY if the array cannot be
/// allocated.
/// Ownership: the caller owns the result (see kiln_array_create); `path` is
/// only read during the call.
/// Thread-safety: safe to call from any thread; calls share no state.
KILN_API kiln_status_t kiln_idx_load(const char *path, kiln_array_t **out_array,
                                     char *error, size_t error_size);

/*===----------------------------------------------------------------------===*\
|* CSV files                                                                  *|
\*===----------------------------------------------------------------------===*/

/// How kiln_csv_load splits a CSV file into features and labels. Initialize
/// with kiln_csv_options_init, then change fields; at most one of
/// label_column and label_index may select a column.
/// Thread-safety: plain data; no internal synchronization.
typedef struct kiln_csv_options_t {
  /// Name of the label column as written in the header row (after removing
  /// quotes and surrounding spaces), or NULL. Default NULL.
  /// Ownership: borrowed; must stay valid during kiln_csv_load.
  const char *label_column;
  /// 0-based index of the label column, or -1 for none. Default -1. Used
  /// when label_column is NULL.
  int32_t label_index;
  /// Field separator: any byte except '"', '\r', '\n' and '\0'. Default ','
  /// (use ';' for European exports, '\t' for TSV).
  char delimiter;
  /// Name of a per-sample weight column (kiln_csv_load_weighted only), or
  /// NULL. Default NULL. Ownership: borrowed, as label_column.
  const char *weight_column;
} kiln_csv_options_t;

/// Sets `*options` to the defaults: no label column (label_column NULL,
/// label_index -1) and delimiter ','. NULL is accepted and ignored.
/// Thread-safety: safe to call from any thread.
KILN_API void kiln_csv_options_init(kiln_csv_options_t *options);

/// Loads the numeric CSV file at `path` into a KILN_DTYPE_F32 feature array
/// and, if a label column is selected, a KILN_DTYPE_F32 label array.
///
/// Shapes: with R data rows and C columns, `*out_features` is [R, C - 1]
/// (the columns other than the label column, in file order) and
/// `*out_labels` is [R]; without a label column, `*out_features` is [R, C]
/// and `*out_labels` (if out_labels is not NULL) is set to NULL. R may be 0.
/// Labels are plain numbers; a caller that needs class indices converts them
/// (e.g. to i32).
///
/// Syntax (RFC 4180, minimally): line 1 is the header row of column names
/// and is required; every other line is one record with exactly C fields.
/// Lines end in "\n" or "\r\n"; a UTF-8 byte-order mark is skipped. A field
/// may be enclosed in double quotes, inside which the delimiter is literal
/// and "" stands for one quote; a quoted field cannot span lines. Spaces and
/// tabs around a field are ignored (unless they are the delimiter). Empty
/// lines at the end of the file are ignored; an empty line before a record
/// is an error. Each value is parsed as a decimal number ("1", "-2.5e-3",
/// "+4", "nan", "inf"; no hex, no thousands separators, independent of the
/// C locale) to f64, then rounded to f32; a finite value beyond the f32
/// range is an error.
///
/// Errors: KILN_ERROR_INVALID_ARGUMENT if path or out_features is NULL, a
/// label column is selected and out_labels is NULL, both label_column and
/// label_index >= 0 are set, label_index < -1, or the delimiter is not
/// allowed; KILN_ERROR_IO if the file cannot be opened or read;
/// KILN_ERROR_FORMAT if the file is empty, a record has the wrong number of
/// fields, a field is empty or not a number or out of range, a quote is
/// unterminated, or the label column does not exist (unknown name, name
/// found twice, index >= C). Messages name the 1-based line (the header is
/// line 1) and, for values, the 1-based field and its column name:
///   "data.csv:17: expected 31 fields, got 30"
///   "data.csv:3: field 2 ('petal_width'): 'abc' is not a number"
///   "data.csv:1: no column named 'label' in the header (columns: 'x1',
///   'x2')"
/// KILN_ERROR_OUT_OF_MEMORY if the arrays cannot be allocated. On error both
/// outputs (where not NULL) are set to NULL.
/// Ownership: the caller owns both results (see kiln_array_create);
/// `path` and `options` (NULL means the defaults) are only read during the
/// call.
/// Thread-safety: safe to call from any thread; calls share no state.
KILN_API kiln_status_t kiln_csv_load(const char *path,
                                     const kiln_csv_options_t *options,
                                     kiln_array_t **out_features,
                                     kiln_array_t **out_labels, char *error,
                                     size_t error_size);

/// kiln_csv_load, plus the column named options->weight_column (if not
/// NULL) returned as a KILN_DTYPE_F32 [R] array in `*out_weights` and left
/// out of the features ([R, C - 2] with a label column too). Errors: those
/// of kiln_csv_load; KILN_ERROR_INVALID_ARGUMENT if a weight column is
/// named and out_weights is NULL; KILN_ERROR_FORMAT if the header has no
/// column of that name, has it twice, or it is also the label column.
/// kiln_csv_load itself rejects options with weight_column set
/// (KILN_ERROR_INVALID_ARGUMENT) rather than silently keep the column.
/// Ownership and thread-safety: as kiln_csv_load; `*out_weights` is NULL
/// without a weight column.
KILN_API kiln_status_t kiln_csv_load_weighted(const char *path,
                                              const kiln_csv_options_t *options,
                                              kiln_array_t **out_features,
                                              kiln_array_t **out_labels,
                                              kiln_array_t **out_weights,
                                              char *error, size_t error_size);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* KILN_DATA_H */
