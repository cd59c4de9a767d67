/* Corral's version: the one place it is written (corrald --version, /version,
 * the CLI's User-Agent). */
#ifndef CORRAL_VERSION_H
#define CORRAL_VERSION_H

#define CORRAL_VERSION "0.1.0"

#endif
