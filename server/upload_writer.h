/* The disk side of a streamed upload: a thread that writes the received
 * bytes to the file while the HTTP thread goes on receiving and decrypting
 * the next ones.  Bytes are gathered in a small ring of buffers; the writer
 * also hashes them (the checksum is known when the body ends, without reading
 * the file again) and writes them back as it goes, a window behind, so
 * that the final sync has little left to do and the written pages leave the
 * page cache. */
#ifndef CORRAL_SERVER_UPLOAD_WRITER_H
#define CORRAL_SERVER_UPLOAD_WRITER_H

#include <stddef.h>

struct upload_writer;

/* Starts a writer appending to FD (not owned: the caller closes it after
 * upload_writer_free).  ALGO is an OpenSSL digest name ("sha256") to hash
 * the bytes with, or NULL.  Returns 0 with *OUT set, -ENOMEM, -EINVAL (an
 * unknown ALGO) or the error of pthread_create. */
int upload_writer_new(int fd, const char *algo, struct upload_writer **out);
/* Queues N bytes from D (copied: D may be reused at once).  Blocks only when
 * every buffer waits for the disk.  Returns 0, or the first write error
 * (negative errno) met so far; after an error the bytes are dropped. */
int upload_writer_put(struct upload_writer *w, const void *d, size_t n);
/* Writes what is left and waits for the thread.  Returns 0 or the first
 * write error; on success with an ALGO, HEX (N bytes) gets the lowercase hex
 * digest of every byte put.  W must still be freed. */
int upload_writer_finish(struct upload_writer *w, char *hex, size_t n);
/* Stops the thread (bytes not yet written are dropped) and frees W.  NULL
 * is ignored. */
void upload_writer_free(struct upload_writer *w);

/* LEN digest bytes D as lowercase hex into OUT (N bytes, NUL-terminated). */
void upload_digest_hex(const unsigned char *d, unsigned len, char *out, size_t n);

#endif
