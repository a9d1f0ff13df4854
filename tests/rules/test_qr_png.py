"""The check-in QR is drawn from the module matrix: the very PNG qrcode's own image would be."""

import io

import qrcode
from PIL import Image

from rules.rsvp import qr_png


def _drawn_by_qrcode(data: str) -> bytes:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4, mask_pattern=0)
    code.add_data(data)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


def test_the_check_in_qr_is_the_png_qrcode_draws() -> None:
    for link in ("https://t.me/dienhinh_bot?start=chk_abc", "https://t.me/dienhinh_bot?start=chk_" + "Zx9" * 20):
        png = qr_png(link)
        assert png == _drawn_by_qrcode(link)
        image = Image.open(io.BytesIO(png))
        assert image.mode == "1" and image.size[0] == image.size[1] >= 290
