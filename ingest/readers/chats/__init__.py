"""Chat history exports (ChatGPT, WhatsApp, Telegram, Slack, Discord, LoCoMo-style JSON) as conversation documents."""
