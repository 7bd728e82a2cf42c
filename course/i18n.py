"""Every sentence a student reads from the checks and the judge, in one place to translate.

``t("dx for {case}: got None", case=label)`` returns the English text today; a translated edition
replaces :func:`t` with a lookup of the literal template, so templates must be string literals at the
call site (an extractor finds them there) and carry their variable parts as named fields.
"""


def t(template, **fields):
    """The message ``template`` with its ``{fields}`` filled in."""
    return template.format(**fields)
