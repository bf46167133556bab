#include <criterion/criterion.h>
Test(placeholder, compiles)
{
    cr_assert(1);
}
