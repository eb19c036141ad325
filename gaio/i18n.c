/* i18n.c: binds the "gaio" gettext domain, so run-time errors are translated
 * whatever domain the application itself uses.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "i18n-private.h"

#include <libintl.h>

void
gaio_i18n_init(void)
{
    static gsize bound;

    if (g_once_init_enter(&bound)) {
        bindtextdomain(GETTEXT_PACKAGE, GAIO_LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        /* Load the catalogue now, while a file descriptor can still be had:
         * the first message to translate may well be "out of file
         * descriptors". (Any lookup loads it; the empty msgid is the header.) */
        (void)dgettext(GETTEXT_PACKAGE, "");
        g_once_init_leave(&bound, 1);
    }
}
