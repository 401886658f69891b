from django import template

from core import formatting

register = template.Library()

register.filter("percent", formatting.percent)
register.filter("rate", formatting.points)
register.filter("money", formatting.money)
register.filter("decimal", formatting.decimal)
register.filter("days", formatting.days)
