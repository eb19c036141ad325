/* gaio-version-macros.h: symbol visibility and availability annotations.
 *
 * Every exported prototype carries one of the GAIO_AVAILABLE_IN_* macros; the
 * library is built with hidden visibility, so what is not annotated is private.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(GAIO_INSIDE) && !defined(GAIO_COMPILATION)
#error "Only <gaio/gaio.h> can be included directly."
#endif

#include <glib.h>

#include <gaio/gaio-version.h>

#ifndef _GAIO_EXTERN
#if defined(GAIO_COMPILATION) && defined(__GNUC__)
#define _GAIO_EXTERN __attribute__((visibility("default"))) extern
#else
#define _GAIO_EXTERN extern
#endif
#endif

#define GAIO_VERSION_0_1 (GAIO_ENCODE_VERSION(0, 1, 0))

#ifdef GAIO_DISABLE_DEPRECATION_WARNINGS
#define GAIO_DEPRECATED _GAIO_EXTERN
#define GAIO_DEPRECATED_FOR(f) _GAIO_EXTERN
#else
#define GAIO_DEPRECATED G_DEPRECATED _GAIO_EXTERN
#define GAIO_DEPRECATED_FOR(f) G_DEPRECATED_FOR(f) _GAIO_EXTERN
#endif

/* Symbols present since the first release. */
#define GAIO_AVAILABLE_IN_ALL _GAIO_EXTERN
#define GAIO_AVAILABLE_IN_0_1 _GAIO_EXTERN
