"""What a reader sees instead of personal data (pure functions)."""

from app.api.masking import mask_email, mask_key, mask_phone, mask_text, mask_traits


def test_emails_keep_the_first_letter_and_the_domain():
    assert mask_email("jan.jansen@gmail.com") == "j***@gmail.com"
    assert mask_key("email:jan.jansen@gmail.com") == "email:j***@gmail.com"


def test_phones_keep_the_last_digits_only():
    assert mask_phone("+31612345678") == "***5678"
    assert mask_key("phone:+31612345678") == "phone:***5678"
    assert mask_key("cookie:ck_1") == "cookie:ck_1"


def test_free_text_is_masked_but_dates_and_amounts_are_kept():
    text = ("steward sam linked email:anna@example.com - phone:+31612345678 at "
            "2024-05-05T00:00:00.000000Z; call 06-12345678 or 0031 6 1234 5678; total 1000000")
    assert mask_text(text) == (
        "steward sam linked email:a***@example.com - phone:***5678 at "
        "2024-05-05T00:00:00.000000Z; call ***5678 or ***5678; total 1000000")


def test_traits_by_kind():
    assert mask_traits({"first_name": "Anna", "last_name": "de Vries", "birth_date": "1988-04-12",
                        "street": "Prinsengracht", "postcode": "1016 GV", "city": "Amsterdam",
                        "email": "a@b.nl", "note": "mail a@b.nl"}) == {
        "first_name": "A.", "last_name": "d.", "birth_date": "1988", "street": "***",
        "postcode": "***", "city": "Amsterdam", "email": "a***@b.nl", "note": "mail a***@b.nl"}
