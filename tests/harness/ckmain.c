/*
 * The shared main of the Check test programs. See ckmain.h.
 */
#include <stdlib.h>

#include "ckmain.h"

int
main(void)
{
	SRunner *sr = srunner_create(ckmain_suite());
	int failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
