import ast
import os
import re

from odoo.tests import BaseCase, tagged

TESTS = os.path.dirname(__file__)
DOC = os.path.join(os.path.dirname(TESTS), "docs", "security.md")
REFERENCE = re.compile(r"`((?:\w+/)?test_\w+\.py)::(Test\w+)(?:::(test_\w+))?`")


def defined_tests(path):
    """{(class, method)} of the test classes defined in ``path``."""
    with open(path, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    return {
        (node.name, item.name)
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        for item in node.body
        if isinstance(item, ast.FunctionDef)
    }


@tagged("post_install", "-at_install")
class TestSecurityDoc(BaseCase):
    """docs/security.md names tests that exist."""

    def test_every_proof_it_names_is_a_test_of_the_suite(self):
        with open(DOC, encoding="utf-8") as doc:
            text = doc.read()
        references = REFERENCE.findall(text)
        self.assertGreater(len(references), 30)
        missing = []
        for filename, cls, method in references:
            path = os.path.join(TESTS, filename)
            tests = defined_tests(path) if os.path.exists(path) else set()
            classes = {name for name, _method in tests}
            if (cls, method) not in tests if method else cls not in classes:
                missing.append(f"{filename}::{cls}::{method}")
        self.assertEqual(missing, [])
        # every name of a test in the document is in the full form checked above
        self.assertEqual(
            len(re.findall(r"`[^`]*::[^`]*`", text))
            - text.count("`file::Class::test`"),
            len(references),
        )
