/* i18n-private.h: translatable messages in the library's own text domain.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "config.h"

#include <glib/gi18n-lib.h>

/* Binds the "gaio" text domain to the installed catalogues, once. */
void gaio_i18n_init(void);
