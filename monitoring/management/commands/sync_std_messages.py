from django.core.management.base import BaseCommand

from monitoring.services import std_message_sync


class Command(BaseCommand):
    help = "Add the standard messages of the catalogue that STD_MESSAGE lacks (run after an upgrade)."

    def handle(self, *args, **options):
        created = std_message_sync()
        self.stdout.write(self.style.SUCCESS(f"STD_MESSAGE: {created} message(s) added."))
