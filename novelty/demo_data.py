"""Deterministic demo data: the support assistant of "Lumen Bank", a fictional fintech app.

The story the data tells: an intent classifier trained on 20 customer-support intents runs in
production for a week. On day 5 the bank launches crypto trading in the app and customers start
asking about bitcoin, wallets, staking and crypto tax statements, none of which the classifier
knows; on day 6 a "Lumen Pay Later" instalment product follows. The classifier forces these new
prompts into the nearest known intents, so its predicted-label mix barely moves while the prompts
themselves drift.

Everything is generated with the standard library from hand-written templates, so the output is
identical for a given seed on every machine and takes a fraction of a second.

The module has two halves: DATA (templates, slot values, traffic mix, confusions) and LOGIC
(filling templates, adding human noise, assembling log records and writing files).
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from pathlib import Path

__all__ = [
    "INTENTS",
    "NEW_TOPICS",
    "DemoFiles",
    "production_day",
    "training_prompts",
    "write_demo_files",
]

INTENTS: tuple[str, ...] = (
    "card_arrival",
    "card_lost_or_stolen",
    "card_declined",
    "pin_reset",
    "transfer_failed",
    "transfer_timing",
    "exchange_rate",
    "top_up_failed",
    "refund_request",
    "account_closure",
    "change_address",
    "verify_identity",
    "atm_cash_withdrawal",
    "direct_debit",
    "fees_charges",
    "statement_download",
    "contactless_not_working",
    "app_login_problem",
    "savings_interest",
    "overdraft_limit",
)
"""The intents the production classifier was trained on."""

NEW_TOPICS: tuple[str, ...] = ("crypto", "bnpl")
"""Topics seen in production only (ground truth for evaluation): crypto, buy-now-pay-later."""

DEFAULT_START = date(2026, 11, 18)
"""Date of production day 1."""

# ================================================================================================
# DATA
# ================================================================================================

# Slot values. ``{name}`` in a template draws from SLOTS[name]; ``{name2}`` draws a different
# value from the same list (e.g. two currencies in one sentence).
SLOTS: Mapping[str, tuple[str, ...]] = {
    "amount": (
        "£5", "£12.99", "£20", "£25", "£35", "£40", "£50", "£64.20", "£75", "£80",
        "£100", "£120", "£150", "£200", "£249.99", "£300", "£480", "£500", "£750",
        "£1,000", "£1200", "£2,500", "€30", "€80", "€150", "$60", "$200", "45 pounds",
        "100 quid", "20 euros",
    ),
    "currency": (
        "EUR", "USD", "euros", "dollars", "US dollars", "CHF", "Swiss francs", "yen", "PLN",
        "zloty", "Turkish lira", "AUD", "Canadian dollars", "SEK", "Thai baht", "GBP", "pounds",
        "dirhams", "Czech koruna", "Hungarian forint",
    ),
    "merchant": (
        "Amazon", "Tesco", "Sainsbury's", "Uber", "Deliveroo", "ASOS", "Zara", "Netflix",
        "Spotify", "Ryanair", "easyJet", "Booking.com", "Airbnb", "eBay", "Argos", "Currys",
        "IKEA", "Pret", "Starbucks", "Lidl", "Aldi", "Boots", "JD Sports", "the Apple Store",
        "Steam", "Shein", "Just Eat", "the supermarket", "a restaurant", "the petrol station",
    ),
    "weekday": (
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    ),
    "country": (
        "Spain", "France", "Italy", "Portugal", "Germany", "the US", "Poland", "Greece",
        "Turkey", "Thailand", "Ireland", "the Netherlands", "Croatia", "Mexico", "Japan",
        "Romania", "Switzerland", "Canada", "the UAE", "Australia",
    ),
    "city": (
        "London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol", "Edinburgh",
        "Cardiff", "Liverpool", "Brighton", "Barcelona", "Paris", "Lisbon", "Berlin",
        "Amsterdam", "Rome", "Dublin", "Krakow", "New York", "Newcastle",
    ),
    "device": (
        "iPhone", "new iPhone", "iPhone 15", "Samsung", "Galaxy S23", "Pixel", "Android phone",
        "iPad", "Huawei", "OnePlus", "work phone", "new phone",
    ),
    "n_days": ("3", "5", "7", "10", "12", "14", "two", "three", "four", "five", "ten"),
    "time_ago": (
        "yesterday", "two days ago", "3 days ago", "last week", "a week ago", "10 days ago",
        "over two weeks ago", "this morning", "on Monday", "last Friday", "earlier today",
        "a few days ago",
    ),
    "card_type": (
        "debit", "replacement", "new", "virtual", "metal", "Premium", "joint account", "Visa",
        "Mastercard", "physical",
    ),
    "place": (
        "a bar", "the gym", "the train station", "a restaurant", "work", "the airport",
        "a festival", "the shopping centre", "the cinema", "a taxi", "the tube", "my hotel",
    ),
    "name": (
        "my friend", "my mum", "my dad", "my brother", "my sister", "my landlord", "a supplier",
        "my flatmate", "my partner", "a colleague", "Sarah", "James", "Mohammed", "Anna", "Tom",
        "Priya",
    ),
    "bank": (
        "Barclays", "HSBC", "Lloyds", "NatWest", "Santander", "Monzo", "Revolut", "Nationwide",
        "Halifax", "Starling", "Chase", "TSB", "Wise", "Deutsche Bank", "ING",
    ),
    "n_times": ("3", "three", "4", "5", "several", "multiple"),
    "pay_wallet": ("Apple Pay", "Google Pay", "Samsung Pay", "Garmin Pay"),
    "company": (
        "British Gas", "Vodafone", "Netflix", "my gym", "the council", "EE", "Sky",
        "Octopus Energy", "Thames Water", "my landlord", "PureGym", "TV Licensing", "Aviva",
        "my phone provider",
    ),
    "id_doc": (
        "passport", "driving licence", "ID card", "residence permit", "national ID",
        "biometric residence permit",
    ),
    "month": (
        "January", "February", "March", "April", "May", "June", "July", "August", "September",
        "October", "November", "December", "last month",
    ),
    "n_months": ("3", "6", "12", "two", "three", "six"),
    "purpose": (
        "my mortgage application", "a visa application", "my landlord", "my accountant",
        "a rental application", "student finance", "the council", "my tax return",
    ),
    "coin": (
        "bitcoin", "Bitcoin", "BTC", "ethereum", "Ethereum", "ETH", "Solana", "SOL", "XRP",
        "Dogecoin", "USDT", "USDC", "Cardano", "Litecoin", "Polygon",
    ),
    "coin_amount": (
        "0.01 BTC", "0.005 bitcoin", "0.5 ETH", "2 ETH", "1.2 ethereum", "100 USDT", "500 USDC",
        "50 SOL", "1,000 XRP", "3 LTC",
    ),
    "exchange": (
        "Coinbase", "Binance", "Kraken", "Bitstamp", "Crypto.com", "Bitpanda", "eToro", "Gemini",
    ),
    "crypto_wallet": (
        "MetaMask", "Ledger", "Trezor", "Trust Wallet", "Exodus", "Coinbase Wallet", "Phantom",
        "hardware",
    ),
    "year": ("2024", "2025", "2026", "last year", "this year"),
    "tax_year": ("2025/26", "2024/25", "last", "current", "previous"),
}

# Hand-written phrasings per known intent: questions, complaints, one-liners, long polite messages.
INTENT_TEMPLATES: Mapping[str, tuple[str, ...]] = {
    "card_arrival": (
        "My new card still hasn't arrived, it's been {n_days} days.",
        "When will my card arrive?",
        "card not arrived",
        "How long does it take for a new card to be delivered to {country}?",
        "I ordered a card {time_ago} and it's still not here",
        "Where is my card? I ordered it {time_ago}.",
        "Can you track the delivery of my {card_type} card?",
        "Still waiting on my card...",
        "Hello, I requested a {card_type} card {time_ago} but nothing has come in the post yet. "
        "Could you check the status please?",
        "is there a tracking number for my card",
        "The app says my card was dispatched on {weekday} but I haven't received it.",
        "How many days until my {card_type} card gets here?",
        "my card was supposed to arrive by {weekday}, where is it",
        "I moved to {country} - will my card be shipped there and how long will it take?",
        "Card delivery is taking forever. {n_days} days and counting!",
        "Has my {card_type} card been sent yet?",
        "Can I speed up delivery of my card? I need it before my trip to {country} on {weekday}.",
        "What's the status of my card order?",
        "still no card in the post after {n_days} days",
    ),
    "card_lost_or_stolen": (
        "I lost my card",
        "My card was stolen at {place}, please block it.",
        "I think I left my card at {place}. Can you freeze it?",
        "Someone stole my wallet with my Lumen card in it",
        "How do I report a lost card?",
        "lost my card in {city} what do i do",
        "I can't find my card anywhere, I last used it at {merchant} on {weekday}.",
        "Please cancel my card immediately, it's been stolen",
        "My bag was stolen {time_ago} and my {card_type} card was in it. "
        "How do I stop anyone using it?",
        "Can I temporarily freeze my card while I look for it?",
        "pickpocketed in {city}, need to block my card",
        "I misplaced my card, how do I get a replacement?",
        "My card fell out of my pocket somewhere, am I liable for anything someone spends?",
        "Is there a way to lock my card from the app? I can't find it.",
        "Card stolen while travelling in {country}, I need an emergency replacement",
        "Hi, I've lost my {card_type} card. Can you block it and send a new one to my address?",
        "left my card in {place} and it's gone",
    ),
    "card_declined": (
        "Why was my card declined at {merchant}?",
        "My card got declined when paying {amount} at {merchant}",
        "card declined again??",
        "Payment at {merchant} was refused even though I have money in my account",
        "I tried to pay online at {merchant} and it says transaction declined",
        "Why does my card keep getting rejected?",
        "card not working at {merchant}",
        "My card was declined in {country}, is it blocked for foreign use?",
        "Tried to buy something for {amount} and the card was declined, balance is fine",
        "Why was my payment declined? This is embarrassing, I was at the checkout in {merchant}.",
        "Declined at the petrol station this morning, what's going on",
        "Online purchase keeps failing with my Lumen card",
        "Hello, my card was declined twice today at {merchant}. I have more than enough funds. "
        "Could you look into it?",
        "Is there a spending limit? My {amount} payment got declined",
        "{merchant} won't accept my card",
        "why is my card being declined for online payments",
    ),
    "pin_reset": (
        "I forgot my PIN",
        "How do I reset my PIN?",
        "How can I change my card PIN?",
        "I entered the wrong PIN {n_times} times and now it's blocked",
        "My PIN is locked, how do I unblock it?",
        "forgot pin",
        "Where can I see my PIN in the app?",
        "Can I change my PIN at an ATM?",
        "I want to set a new PIN for my {card_type} card",
        "PIN blocked after too many attempts, help",
        "Hi, I can't remember the PIN for my new card. "
        "Is there a way to view it or reset it from my {device}?",
        "How do I unlock my PIN?",
        "Is it possible to choose my own PIN?",
        "The ATM in {city} says incorrect PIN but I'm sure it's right",
        "Need to reset my pin before my trip on {weekday}",
        "what is the pin for my {card_type} card",
    ),
    "transfer_failed": (
        "My transfer to {name} failed",
        "Why did my transfer of {amount} fail?",
        "transfer failed",
        "I tried to send {amount} to {name} and it says the transfer could not be completed",
        "Bank transfer to {bank} keeps failing",
        "My payment to {name} bounced back",
        "The transfer I made {time_ago} was returned to my account, why?",
        "I sent money to the wrong account details and it failed, what now?",
        "Why was my outgoing payment rejected?",
        "International transfer to {country} failed with no explanation",
        "Hello, I attempted to transfer {amount} to {name} this morning but the app shows "
        "'failed'. Has the money left my account?",
        "Error when sending money: 'payment could not be processed'",
        "transfer to {bank} declined why",
        "My SEPA transfer to {country} failed, can you tell me the reason?",
        "Money was taken from my balance but the transfer says failed",
        "cant send money to {name}, keeps saying failed",
    ),
    "transfer_timing": (
        "How long does a transfer take?",
        "When will my transfer to {country} arrive?",
        "I sent {amount} to {name} {time_ago} and they still haven't received it",
        "How long do international transfers take?",
        "Transfer still pending after {n_days} days",
        "Why is my transfer taking so long?",
        "Is a bank transfer to {bank} instant?",
        "money sent but not received yet",
        "If I send money on {weekday} when will it arrive?",
        "How many working days for a transfer to {country}?",
        "My transfer says 'processing' - how much longer?",
        "Hi, I made a transfer to {name} in {country} {time_ago} and it still shows as pending. "
        "When should the money arrive?",
        "do transfers go through on weekends",
        "What's the cut-off time for same-day transfers?",
        "How fast are payments to other UK banks like {bank}?",
        "when does {name} get the money i sent",
    ),
    "exchange_rate": (
        "What exchange rate do you use?",
        "What's the rate for {currency} to {currency2} today?",
        "Why did I get a bad exchange rate on my payment in {country}?",
        "How much is {amount} in {currency}?",
        "exchange rate {currency} {currency2}",
        "Is the exchange rate you use the real mid-market rate?",
        "I was charged more than expected for a purchase in {currency}, was the rate wrong?",
        "When does the exchange rate get applied to card payments abroad?",
        "Why is the rate different at weekends?",
        "Can I lock in an exchange rate before I travel to {country}?",
        "How do I convert money to {currency} in the app?",
        "Hello, I exchanged {amount} to {currency} yesterday and the rate seems off compared "
        "to Google. Can you explain?",
        "what rate do i get if i pay in {currency}",
        "Does the exchange rate change during the day?",
        "Where can I see today's {currency} rate?",
        "is the {currency} rate better in the app or at the airport",
    ),
    "top_up_failed": (
        "My top up failed",
        "Why did my top-up of {amount} not go through?",
        "I tried to add money with my {bank} card and it failed",
        "top up not working",
        "Top-up with {pay_wallet} was declined",
        "Money was taken from my {bank} account but my top-up didn't arrive",
        "Why can't I top up my account?",
        "Top up pending for hours, is that normal?",
        "I topped up {amount} {time_ago} but my balance hasn't changed",
        "The app says 'top-up failed, try again later' every time",
        "Can't add funds using my debit card",
        "Hello, I've been trying to top up {amount} from my {bank} account since this morning "
        "and it keeps failing. Is there a problem?",
        "top-up reverted, why",
        "Is there a limit on how much I can top up? My {amount} top-up was rejected",
        "Added money by bank transfer from {bank} but it's not showing",
        "top up with card failed {n_times} times",
    ),
    "refund_request": (
        "How do I get a refund from {merchant}?",
        "I returned an item to {merchant} {time_ago} and still haven't got my refund",
        "Refund not showing in my account",
        "{merchant} says they refunded me {amount} but I don't see it",
        "How long do refunds take to appear?",
        "I want my money back for a cancelled order from {merchant}",
        "where is my refund",
        "The merchant refused to refund me, can you help?",
        "Can you reverse a payment of {amount} to {merchant}?",
        "I was charged twice by {merchant}, I need a refund for one of them",
        "Hello, I cancelled my subscription with {merchant} but they charged me {amount} anyway. "
        "How can I get this refunded?",
        "Refund pending for {n_days} days",
        "How do I dispute a charge and get my money back?",
        "Got a refund email from {merchant} but the money isn't in my account",
        "refund from {merchant} still missing",
    ),
    "account_closure": (
        "How do I close my account?",
        "I want to close my Lumen account",
        "Please delete my account",
        "close account",
        "What happens to my balance if I close my account?",
        "I'm moving to {country} and want to close my account before I go",
        "Can I close my account from the app?",
        "How do I cancel my Lumen membership and get my money out?",
        "I'm not happy with the service, please close my account.",
        "Is there a fee to close my account?",
        "Hi, I'd like to permanently close my account and move the remaining {amount} to my "
        "{bank} account. What's the process?",
        "delete my profile and all my data",
        "How long does it take to close an account?",
        "Can I reopen my account after closing it?",
        "I want to close my joint account with {name}",
        "switching to {bank}, how do i shut this account",
    ),
    "change_address": (
        "How do I change my address?",
        "I've moved, how do I update my address?",
        "update address",
        "I moved to {city}, how do I change my home address in the app?",
        "Can I change my billing address?",
        "My address is wrong on my account",
        "I need to update my postcode",
        "Do I need proof of address to change it?",
        "Will my card be sent to my new address if I update it?",
        "Hi, I recently moved from {city} to {city2}. How can I update my address so my "
        "statements are correct?",
        "where do i edit my address",
        "Change of address - what documents do you need?",
        "Can I change my address to one in {country}?",
        "My address change hasn't been saved",
        "The app won't let me update my address on my {device}",
        "new address after moving to {city}",
    ),
    "verify_identity": (
        "Why do I need to verify my identity?",
        "How do I verify my identity?",
        "My identity verification failed",
        "verification pending",
        "What documents can I use to verify my ID?",
        "The app keeps rejecting my {id_doc}",
        "How long does identity verification take?",
        "I uploaded my {id_doc} {time_ago} and I'm still not verified",
        "Why is my account under review?",
        "Selfie check keeps failing",
        "Can I verify with a {id_doc} from {country}?",
        "Hello, I've tried to verify my identity {n_times} times now and the photo of my {id_doc} "
        "is always rejected. What am I doing wrong?",
        "verify id not working",
        "Do you accept a residence permit for verification?",
        "Why are you asking me to verify again? I already did it",
        "my {id_doc} photo keeps getting declined",
    ),
    "atm_cash_withdrawal": (
        "ATM didn't give me my cash",
        "I withdrew {amount} but the ATM gave me nothing",
        "How much can I withdraw from an ATM per day?",
        "Are ATM withdrawals free?",
        "I was charged for an ATM withdrawal in {country}",
        "cash machine gave me less money than I asked for",
        "Can I use my card at any ATM in {country}?",
        "withdrawal from atm shows twice",
        "What's the ATM withdrawal limit?",
        "I took out {amount} in {city} and the amount on my statement is different",
        "Hi, I tried to withdraw {amount} at an ATM in {city} yesterday. The machine didn't "
        "dispense the cash but my account was debited. Please help.",
        "Where can I withdraw cash for free?",
        "atm declined my card in {city}",
        "Can I withdraw {currency} from ATMs abroad?",
        "The cash machine kept my card",
        "took out cash {time_ago} and got charged twice",
    ),
    "direct_debit": (
        "How do I set up a direct debit?",
        "How do I cancel a direct debit?",
        "A direct debit from {company} came out that I didn't expect",
        "direct debit failed",
        "My direct debit to {company} was returned",
        "Can I change the date of my direct debit?",
        "Why was I charged twice by direct debit?",
        "Where can I see my direct debits in the app?",
        "I want to stop {company} taking money from my account",
        "My rent direct debit didn't go out, why?",
        "Hello, {company} says my direct debit bounced this month even though I had {amount} in "
        "my account. Can you check?",
        "cancel dd for {company}",
        "How do I move my direct debits from {bank}?",
        "Is there a fee if a direct debit fails?",
        "Direct debit mandate for {company} not showing",
        "{company} took {amount} by direct debit twice",
    ),
    "fees_charges": (
        "Why was I charged a fee?",
        "What are your fees?",
        "I see a {amount} fee on my account, what is it for?",
        "unexpected fee",
        "Are there any monthly fees?",
        "Why was I charged extra for a payment in {currency}?",
        "How much does it cost to send money to {country}?",
        "Do you charge for card payments abroad?",
        "What is the fee for a replacement card?",
        "Is there a fee for topping up with a credit card?",
        "Hello, I noticed a charge of {amount} labelled 'service fee' on my statement from "
        "{weekday}. I wasn't told about this. Can you explain?",
        "what's the monthly fee for Premium",
        "I was charged a weekend fee on my {currency} exchange",
        "Can you waive this fee?",
        "hidden fees??",
        "why did you take {amount} from my account as a charge",
    ),
    "statement_download": (
        "How do I download my statement?",
        "I need a bank statement for {purpose}",
        "Where can I get my statement for {month}?",
        "download statement pdf",
        "Can I get an official stamped statement?",
        "How do I export my transactions to CSV?",
        "I need statements for the last {n_months} months",
        "Can you email me my statement?",
        "Where are my monthly statements in the app?",
        "Hi, {purpose} needs {n_months} months of bank statements. How can I download them "
        "from the app?",
        "need proof of income statement",
        "The statement download isn't working on my {device}",
        "How do I get an annual statement for my tax return?",
        "Statement for {month} is missing",
        "can i get a statement with my full name and address on it",
    ),
    "contactless_not_working": (
        "Contactless isn't working",
        "My card doesn't work contactless",
        "Why can't I pay contactless?",
        "contactless declined at {merchant}",
        "Tap to pay not working on my card",
        "{pay_wallet} isn't working at {merchant}",
        "Contactless keeps asking for my PIN",
        "Is there a contactless limit?",
        "My card works with chip and PIN but not contactless",
        "contactless stopped working after I got my new card",
        "Hello, whenever I try to pay contactless at {merchant} the terminal says card not "
        "supported. It works fine with the chip. Any idea why?",
        "How do I turn on contactless?",
        "{pay_wallet} contactless failing on my {device}",
        "Why does contactless not work on the tube?",
        "tapped my card and nothing happened",
        "contactless payments fail in {country}",
    ),
    "app_login_problem": (
        "I can't log in to the app",
        "The app keeps crashing when I open it",
        "Forgot my passcode",
        "login not working",
        "I got a {device} and can't log into my account",
        "The app says my session expired every time",
        "Face ID not working in the Lumen app",
        "I'm not receiving the SMS code to log in",
        "How do I reset my passcode?",
        "App stuck on the loading screen on my {device}",
        "Hi, since the latest update I haven't been able to sign in on my {device}. It just says "
        "'something went wrong'. Can you help?",
        "locked out of my account",
        "Can I log in on the website instead of the app?",
        "verification code never arrives",
        "app won't open",
        "cant sign in on my {device} since {weekday}",
    ),
    "savings_interest": (
        "What interest rate do you pay on savings?",
        "How much interest will I earn on {amount}?",
        "When is interest paid into my savings?",
        "savings interest rate",
        "Why did my savings interest go down?",
        "Is savings interest paid monthly or annually?",
        "Do I pay tax on savings interest?",
        "How do I open a savings vault?",
        "What's the AER on instant access savings?",
        "I didn't receive my interest this month",
        "Hi, I'm thinking of moving {amount} into savings. What rate would I get and can I "
        "withdraw any time?",
        "is there a fixed rate savings account",
        "How is interest calculated on my savings?",
        "Can I get a better rate if I upgrade my plan?",
        "interest not paid for {month}",
        "what would {amount} earn in a year in your savings",
    ),
    "overdraft_limit": (
        "How do I get an overdraft?",
        "Can I increase my overdraft limit?",
        "What is my overdraft limit?",
        "overdraft increase",
        "Why was my overdraft request declined?",
        "How much does the overdraft cost?",
        "I'd like to reduce my overdraft to {amount}",
        "Can I get an overdraft of {amount}?",
        "I went into my overdraft by mistake, will I be charged?",
        "How do I remove my overdraft?",
        "Hi, I've got an unexpected bill and would like to increase my arranged overdraft to "
        "{amount}. Is that possible?",
        "overdraft limit lowered without warning",
        "Is there an interest-free overdraft?",
        "Does applying for an overdraft affect my credit score?",
        "Why can't I see the overdraft option in the app?",
        "need {amount} overdraft until {weekday}",
    ),
}

# What the production classifier says when it gets a known intent wrong.
CONFUSABLE: Mapping[str, tuple[str, ...]] = {
    "card_arrival": ("card_lost_or_stolen", "change_address", "verify_identity"),
    "card_lost_or_stolen": ("card_arrival", "card_declined"),
    "card_declined": ("contactless_not_working", "atm_cash_withdrawal", "top_up_failed"),
    "pin_reset": ("app_login_problem", "card_declined"),
    "transfer_failed": ("transfer_timing", "top_up_failed"),
    "transfer_timing": ("transfer_failed", "top_up_failed"),
    "exchange_rate": ("fees_charges", "transfer_timing"),
    "top_up_failed": ("transfer_failed", "card_declined"),
    "refund_request": ("card_declined", "direct_debit", "transfer_failed"),
    "account_closure": ("change_address", "statement_download"),
    "change_address": ("verify_identity", "card_arrival"),
    "verify_identity": ("app_login_problem", "change_address"),
    "atm_cash_withdrawal": ("card_declined", "fees_charges"),
    "direct_debit": ("transfer_failed", "fees_charges", "refund_request"),
    "fees_charges": ("exchange_rate", "atm_cash_withdrawal", "overdraft_limit"),
    "statement_download": ("app_login_problem", "account_closure"),
    "contactless_not_working": ("card_declined", "pin_reset"),
    "app_login_problem": ("verify_identity", "pin_reset"),
    "savings_interest": ("overdraft_limit", "fees_charges"),
    "overdraft_limit": ("fees_charges", "savings_interest"),
}

# Relative production traffic of the known intents (card delivery and declines dominate).
INTENT_TRAFFIC: Mapping[str, float] = {
    "card_arrival": 9, "card_lost_or_stolen": 5, "card_declined": 8, "pin_reset": 4,
    "transfer_failed": 7, "transfer_timing": 7, "exchange_rate": 5, "top_up_failed": 6,
    "refund_request": 5, "account_closure": 2, "change_address": 3, "verify_identity": 6,
    "atm_cash_withdrawal": 4, "direct_debit": 4, "fees_charges": 5, "statement_download": 3,
    "contactless_not_working": 3, "app_login_problem": 6, "savings_interest": 2,
    "overdraft_limit": 3,
}

CLASSIFIER_ACCURACY = 0.92
"""Share of known-intent prompts the production classifier labels correctly."""

TRAINING_REPEAT_SHARE = 0.10
"""Share of known-intent production prompts that are verbatim copies of a training prompt."""

MIN_PER_INTENT = 100
"""Distinct training prompts every intent can supply; production repeats come from these."""

DEFAULT_N_PER_INTENT = 150
"""Default training size per intent; fresh production prompts avoid this training set."""

FRESH_RETRIES = 4
"""How often a fresh production prompt is re-drawn when it happens to be a training prompt."""


@dataclass(frozen=True)
class _TopicGroup:
    """A slice of a new topic: its templates, traffic weight and the labels the classifier gives."""

    weight: float
    predicted: Mapping[str, float]
    templates: tuple[str, ...]


NEW_TOPIC_GROUPS: Mapping[str, tuple[_TopicGroup, ...]] = {
    "crypto": (
        _TopicGroup(  # buying, selling, prices
            weight=0.45,
            predicted={"exchange_rate": 0.55, "top_up_failed": 0.25, "fees_charges": 0.10,
                       "card_declined": 0.10},
            templates=(
                "How do I buy bitcoin in the app?",
                "Can I buy {coin} with Lumen?",
                "Can I buy {amount} of {coin}?",
                "what's the price of {coin} right now",
                "How do I sell my {coin}?",
                "I want to sell my {coin} and get the money into my account",
                "buy btc",
                "Why is the {coin} price in the app different from {exchange}?",
                "What's the spread when I buy {coin}?",
                "Is there a minimum amount to buy crypto?",
                "Can I set up a recurring buy of {amount} of {coin} every {weekday}?",
                "Hi, I'd like to start investing in crypto. Can I buy {coin} directly from my "
                "Lumen balance or do I need another app?",
                "My {coin} purchase failed",
                "I tried to buy {coin} with {amount} and the order was rejected",
                "Sell order for {coin} stuck on pending",
                "how do i convert {coin} to pounds",
                "Do you support {coin}?",
                "What cryptocurrencies can I trade in the app?",
                "When will you add {coin}?",
                "crypto buy failed",
                "Why did my {coin} go down right after I bought it?",
            ),
        ),
        _TopicGroup(  # moving coins in and out of the app
            weight=0.30,
            predicted={"transfer_failed": 0.50, "transfer_timing": 0.20, "top_up_failed": 0.20,
                       "exchange_rate": 0.10},
            templates=(
                "How do I send my {coin} to an external wallet?",
                "Withdraw {coin_amount} to my {crypto_wallet} wallet",
                "My crypto withdrawal to {crypto_wallet} failed",
                "Can I transfer {coin} from {exchange} into Lumen?",
                "I sent {coin_amount} to my Lumen wallet address {time_ago} and it hasn't arrived",
                "What's my {coin} wallet address?",
                "crypto transfer stuck",
                "Which network should I use to deposit {coin}, ERC-20 or something else?",
                "I sent USDT on the wrong network, can you recover it?",
                "How long do crypto withdrawals take?",
                "Deposit from my {crypto_wallet} wallet is not showing",
                "Hello, I moved {coin_amount} from {exchange} to my Lumen crypto wallet "
                "{time_ago}. The transaction is confirmed on the blockchain but my balance is "
                "still zero.",
                "is there a fee for sending {coin} off the app",
                "send {coin_amount} to {name}'s wallet",
            ),
        ),
        _TopicGroup(  # staking
            weight=0.12,
            predicted={"savings_interest": 0.60, "exchange_rate": 0.40},
            templates=(
                "Can I stake {coin} in the app?",
                "What APY do you pay for staking {coin}?",
                "When are staking rewards paid?",
                "How do I unstake my ETH?",
                "staking rewards missing",
                "Is my staked {coin} locked? How long until I can withdraw it?",
                "Hi, I staked some {coin} last month but I haven't received any rewards yet. "
                "Is that normal?",
            ),
        ),
        _TopicGroup(  # tax statements
            weight=0.13,
            predicted={"statement_download": 0.60, "fees_charges": 0.20, "exchange_rate": 0.20},
            templates=(
                "Do I need to pay tax on my crypto gains?",
                "Can I download a crypto tax report?",
                "Where can I get a statement of my crypto trades for HMRC?",
                "crypto tax statement {year}",
                "How do I export my crypto transaction history?",
                "Do you provide a capital gains report for crypto?",
                "Hello, my accountant needs a full history of my {coin} buys and sells for the "
                "{tax_year} tax year. Can I export it?",
            ),
        ),
    ),
    "bnpl": (
        _TopicGroup(
            weight=1.0,
            predicted={"fees_charges": 0.40, "direct_debit": 0.35, "overdraft_limit": 0.15,
                       "refund_request": 0.10},
            templates=(
                "Can I split a payment into instalments?",
                "How do I pay for my {merchant} order in 3 instalments?",
                "Is there a buy now pay later option?",
                "How does Lumen Pay Later work?",
                "Can I spread the cost of {amount} over {n_months} months?",
                "I missed a pay later instalment, what happens now?",
                "When is my next instalment due?",
                "pay in 3",
                "Is there interest on pay later plans?",
                "Can I pay off my instalment plan early?",
                "Why was my pay later application declined?",
                "Hi, I bought a laptop at {merchant} for {amount} using Pay Later. Can I change "
                "the date my instalments are taken?",
                "Does buy now pay later affect my credit score?",
                "How many pay later plans can I have at once?",
                "late fee on my instalment",
                "where do I see my pay later plans in the app",
                "Can I use pay in 4 at {merchant}?",
            ),
        ),
    ),
}

# Share of each day's traffic that belongs to a new topic (days after the last listed keep it).
NEW_TOPIC_SHARE: Mapping[str, tuple[float, ...]] = {
    "crypto": (0.0, 0.0, 0.0, 0.0, 0.06, 0.14, 0.25),
    "bnpl": (0.0, 0.0, 0.0, 0.0, 0.0, 0.04, 0.08),
}

# Relative traffic per UTC hour: quiet nights, a lunchtime peak and a busier evening.
HOURLY_WEIGHTS: tuple[float, ...] = (
    2, 1.2, 0.8, 0.6, 0.6, 0.9, 1.8, 3.5, 5.5, 6.5, 7, 7.5,
    8.5, 8, 7, 6.5, 6.5, 7, 7.5, 8, 8, 7, 5, 3.5,
)

# Human noise added on top of the templates.
GREETINGS: tuple[str, ...] = ("Hi, ", "Hello, ", "Hey ", "hi ", "Good morning, ", "Hiya, ")
SIGN_OFFS: tuple[str, ...] = (" Thanks", " thanks!", " Thank you.", " pls help", " asap",
                              " Cheers", " ??")
SHORTHANDS: tuple[tuple[str, str], ...] = (
    ("please", "pls"), ("you", "u"), ("your", "ur"), ("because", "cos"), ("haven't", "havent"),
    ("can't", "cant"), ("doesn't", "doesnt"), ("I'm", "im"), ("thanks", "thx"),
)
STYLE_ODDS: Mapping[str, float] = {
    "greeting": 0.12, "sign_off": 0.10, "shorthand": 0.10, "lowercase": 0.18,
    "no_final_punct": 0.15, "typo": 0.07,
}

BAD_ROWS_DAY = 3
"""The day whose log file gets malformed lines when ``with_bad_rows`` is set."""

_SALT = "novelty-demo-v1"

# ================================================================================================
# LOGIC
# ================================================================================================

_SLOT = re.compile(r"\{(\w+)\}")
_GREETED = re.compile(r"(hi|hello|hey|hiya|good morning)\b", re.IGNORECASE)
_PROPER_WORDS = frozenset(
    value.split(" ")[0] for values in SLOTS.values() for value in values if value[:1].isupper()
) | {"Lumen"}


@dataclass(frozen=True)
class DemoFiles:
    """Paths written by :func:`write_demo_files`.

    Attributes
    ----------
    train : Path
        CSV with header ``text,label``: the classifier's training set.
    logs : tuple of Path
        One JSONL file per production day, named ``<date>.jsonl``, in date order.
    truth : Path
        Where the ground truth lives: the logs directory, since every record carries ``topic``.
    """

    train: Path
    logs: tuple[Path, ...]
    truth: Path


def _fill(template: str, rng: random.Random) -> str:
    """Replace every ``{slot}`` with a value; repeated slots of one family get distinct values."""
    used: set[str] = set()

    def pick(match: re.Match[str]) -> str:
        values = SLOTS[match.group(1).rstrip("0123456789")]
        value = rng.choice(values)
        while value in used:
            value = rng.choice(values)
        used.add(value)
        return value

    return _SLOT.sub(pick, template)


def _typo(text: str, rng: random.Random) -> str:
    """Swap, drop or double one inner letter of a random word of four letters or more."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w, j = words[i], rng.randrange(1, len(words[i]) - 1)
    words[i] = rng.choice((
        w[:j] + w[j + 1] + w[j] + w[j + 2:],
        w[:j] + w[j + 1:],
        w[:j] + w[j] + w[j:],
    ))
    return " ".join(words)


def _lower_first(text: str) -> str:
    """Lower-case the first letter unless the first word is "I", "I'm"..., a name or an acronym."""
    first = text.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or first in _PROPER_WORDS or first[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def _greet(text: str, rng: random.Random) -> str:
    """Prefix a greeting unless the message already opens with one."""
    if _GREETED.match(text):
        return text
    return rng.choice(GREETINGS) + _lower_first(text)


def _shorthand(text: str, rng: random.Random) -> str:
    """Apply one chat-style abbreviation (please -> pls, you -> u, ...) if one fits."""
    fits = [(lg, sh) for lg, sh in SHORTHANDS if re.search(rf"\b{re.escape(lg)}\b", text)]
    if not fits:
        return text
    long, short = rng.choice(fits)
    return re.sub(rf"\b{re.escape(long)}\b", short, text)


def _stylize(text: str, rng: random.Random) -> str:
    """Add the noise of real chat traffic: greetings, sign-offs, lowercase, typos, shorthand."""
    odds = STYLE_ODDS
    if rng.random() < odds["greeting"]:
        text = _greet(text, rng)
    if rng.random() < odds["sign_off"]:
        text = text.rstrip() + rng.choice(SIGN_OFFS)
    if rng.random() < odds["shorthand"]:
        text = _shorthand(text, rng)
    if rng.random() < odds["lowercase"]:
        text = text.lower()
    if rng.random() < odds["no_final_punct"]:
        text = text.rstrip(".!?")
    if rng.random() < odds["typo"]:
        text = _typo(text, rng)
    return text


def _generate(templates: Sequence[str], rng: random.Random) -> str:
    """One prompt: a random template, filled and stylized."""
    return _stylize(_fill(rng.choice(templates), rng), rng)


def _distinct_prompts(intent: str, n: int, seed: int, taken: set[str]) -> list[str]:
    """Up to ``n`` distinct prompts for ``intent`` not already in ``taken`` (which is updated).

    The sequence depends only on (intent, seed), so a smaller ``n`` yields a prefix of a larger one.
    """
    rng = random.Random(f"{_SALT}:{seed}:train:{intent}")
    prompts: list[str] = []
    for _ in range(60 * n):
        if len(prompts) == n:
            break
        text = _generate(INTENT_TEMPLATES[intent], rng)
        if text not in taken:
            taken.add(text)
            prompts.append(text)
    return prompts


@lru_cache(maxsize=8)
def _training_by_intent(n_per_intent: int, seed: int) -> dict[str, tuple[str, ...]]:
    """Distinct training prompts per intent (cached: production days reuse them)."""
    taken: set[str] = set()
    return {
        intent: tuple(_distinct_prompts(intent, n_per_intent, seed, taken)) for intent in INTENTS
    }


@dataclass(frozen=True)
class _TrainingPool:
    """The default-size training set of a seed, as production days see it."""

    by_intent: Mapping[str, tuple[str, ...]]
    texts: frozenset[str]


@lru_cache(maxsize=8)
def _training_pool(seed: int) -> _TrainingPool:
    """Training prompts of the default size for ``seed`` (cached)."""
    by_intent = _training_by_intent(DEFAULT_N_PER_INTENT, seed)
    return _TrainingPool(by_intent, frozenset(t for ts in by_intent.values() for t in ts))


def training_prompts(
    n_per_intent: int = DEFAULT_N_PER_INTENT, seed: int = 0
) -> list[tuple[str, str]]:
    """Labelled training prompts for the production classifier.

    Parameters
    ----------
    n_per_intent : int
        Distinct prompts wanted per intent. Every intent supplies at least 100; beyond what its
        templates allow, an intent returns fewer.
    seed : int
        Same seed, same list.

    Returns
    -------
    list of (str, str)
        ``(text, label)`` pairs, shuffled; no text appears twice, every label is in ``INTENTS``.

    Examples
    --------
    >>> pairs = training_prompts(n_per_intent=100)
    >>> len(pairs), len({text for text, _ in pairs})
    (2000, 2000)
    """
    if n_per_intent < 1:
        raise ValueError(f"n_per_intent must be at least 1, got {n_per_intent}")
    by_intent = _training_by_intent(n_per_intent, seed)
    pairs = [(text, intent) for intent in INTENTS for text in by_intent[intent]]
    random.Random(f"{_SALT}:{seed}:shuffle").shuffle(pairs)
    return pairs


def _weighted(options: Mapping[str, float], rng: random.Random) -> str:
    """One key of ``options``, drawn with the values as weights."""
    return rng.choices(list(options), weights=list(options.values()))[0]


def _topic_share(topic: str, day: int) -> float:
    """Share of day ``day``'s traffic that is about new topic ``topic``."""
    shares = NEW_TOPIC_SHARE[topic]
    return shares[min(day, len(shares)) - 1]


def _day_topics(day: int, n: int, rng: random.Random) -> list[str]:
    """Ground-truth topics of one day's ``n`` records, in random order."""
    topics: list[str] = []
    for topic in NEW_TOPICS:
        topics += [topic] * round(_topic_share(topic, day) * n)
    known = max(0, n - len(topics))
    weights = [INTENT_TRAFFIC[intent] for intent in INTENTS]
    topics = topics[:n] + rng.choices(INTENTS, weights=weights, k=known)
    rng.shuffle(topics)
    return topics


def _timestamps(day_date: date, n: int, rng: random.Random) -> list[str]:
    """``n`` sorted ISO-8601 UTC timestamps within ``day_date``, following HOURLY_WEIGHTS."""
    midnight = datetime.combine(day_date, time(0), tzinfo=timezone.utc)
    hours = rng.choices(range(24), weights=HOURLY_WEIGHTS, k=n)
    seconds = sorted(h * 3600 + rng.randrange(3600) for h in hours)
    return [(midnight + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds]


def _fresh_prompt(intent: str, avoid: frozenset[str], rng: random.Random) -> str:
    """A new phrasing of ``intent``, re-drawn a few times if it is a training prompt.

    The templates cover far fewer phrasings than real customers use; without this, short
    template-only prompts would make half of production a verbatim copy of the training set.
    """
    prompt = _generate(INTENT_TEMPLATES[intent], rng)
    for _ in range(FRESH_RETRIES):
        if prompt not in avoid:
            break
        prompt = _generate(INTENT_TEMPLATES[intent], rng)
    return prompt


def _known_record(intent: str, train: _TrainingPool, rng: random.Random) -> tuple[str, str]:
    """(prompt, predicted_label) for a known intent: sometimes a verbatim training prompt."""
    if rng.random() < TRAINING_REPEAT_SHARE:
        prompt = rng.choice(train.by_intent[intent][:MIN_PER_INTENT])
    else:
        prompt = _fresh_prompt(intent, train.texts, rng)
    if rng.random() < CLASSIFIER_ACCURACY:
        return prompt, intent
    return prompt, rng.choice(CONFUSABLE[intent])


def _new_topic_record(topic: str, rng: random.Random) -> tuple[str, str]:
    """(prompt, predicted_label) for a new topic: the classifier forces it into a known intent."""
    groups = NEW_TOPIC_GROUPS[topic]
    group = rng.choices(groups, weights=[g.weight for g in groups])[0]
    return _generate(group.templates, rng), _weighted(group.predicted, rng)


def _user_id(rng: random.Random) -> str:
    """A user id: a few heavy users, many occasional ones."""
    if rng.random() < 0.15:
        return f"u{rng.randrange(100000, 100400)}"
    return f"u{rng.randrange(100000, 999999)}"


def production_day(
    day: int, n: int = 1500, seed: int = 0, start: date = DEFAULT_START
) -> list[dict]:
    """One day of production log records of the Lumen Bank support classifier.

    Parameters
    ----------
    day : int
        1 to 7 (later days repeat the day-7 topic mix). New topics appear from day 5: crypto is
        about 6%, 14% and 25% of days 5, 6 and 7; "bnpl" about 4% and 8% of days 6 and 7.
    n : int
        Number of records.
    seed : int
        Same (day, n, seed, start), same records.
    start : date
        Date of day 1.

    Returns
    -------
    list of dict
        Records sorted by time with keys ``timestamp`` (e.g. ``"2026-11-18T08:15:02Z"``),
        ``user_id``, ``prompt``, ``predicted_label`` (always one of ``INTENTS``) and ``topic``
        (ground truth for evaluation: an intent or a ``NEW_TOPICS`` name). About 92% of
        known-intent records are predicted correctly and about 10% repeat a training prompt.

    Examples
    --------
    >>> rows = production_day(7, n=200)
    >>> rows[0]["timestamp"][:10], sorted(rows[0])
    ('2026-11-24', ['predicted_label', 'prompt', 'timestamp', 'topic', 'user_id'])
    """
    if day < 1 or n < 0:
        raise ValueError(f"day must be >= 1 and n >= 0, got day={day}, n={n}")
    rng = random.Random(f"{_SALT}:{seed}:day:{day}:{n}")
    topics = _day_topics(day, n, rng)
    stamps = _timestamps(start + timedelta(days=day - 1), n, rng)
    train = _training_pool(seed)
    records = []
    for stamp, topic in zip(stamps, topics):
        if topic in NEW_TOPICS:
            prompt, predicted = _new_topic_record(topic, rng)
        else:
            prompt, predicted = _known_record(topic, train, rng)
        records.append({"timestamp": stamp, "user_id": _user_id(rng), "prompt": prompt,
                        "predicted_label": predicted, "topic": topic})
    return records


# Malformed lines, each made from the good record just before it.
def _dumps(record: Mapping) -> str:
    return json.dumps(record, ensure_ascii=False)


def _truncated_line(record: dict) -> str:
    line = _dumps(record)
    return line[: len(line) * 3 // 5]


def _log_noise_line(record: dict) -> str:
    return f"{record['timestamp']} WARN log-shipper: upstream timeout, retrying batch"


def _prompt_line(value: object) -> Callable[[dict], str]:
    return lambda record: _dumps({**record, "prompt": value})


def _missing_prompt_line(record: dict) -> str:
    return _dumps({k: v for k, v in record.items() if k != "prompt"})


BAD_LINE_MAKERS: tuple[Callable[[dict], str], ...] = (
    _truncated_line,  # writer killed mid-line
    _log_noise_line,  # a stray plain-text log line
    _prompt_line(""),  # empty prompt
    _prompt_line(4417),  # prompt serialised as a number
    _prompt_line(None),  # prompt null
    _missing_prompt_line,  # no prompt key at all
)


def _insert_bad_lines(lines: list[str], records: list[dict], seed: int) -> list[str]:
    """Copy of ``lines`` with one line from each BAD_LINE_MAKERS spread among them."""
    if len(lines) < 2:
        return list(lines)
    rng = random.Random(f"{_SALT}:{seed}:bad")
    k = len(BAD_LINE_MAKERS)
    positions = sorted(rng.choices(range(1, len(lines)), k=k))
    out = list(lines)
    for pos, make in sorted(zip(positions, BAD_LINE_MAKERS), key=lambda p: -p[0]):
        out.insert(pos, make(records[pos - 1]))
    return out


def _write_day(logs_dir: Path, day: int, per_day: int, seed: int, bad: bool) -> Path:
    """Write one day's JSONL file (with malformed lines if ``bad``) and return its path."""
    day_date = DEFAULT_START + timedelta(days=day - 1)
    records = [{"request_id": request_id(day_date, i), **r}
               for i, r in enumerate(production_day(day, per_day, seed, DEFAULT_START))]
    lines = [_dumps(r) for r in records]
    if bad:
        lines = _insert_bad_lines(lines, records, seed)
    path = logs_dir / f"{day_date.isoformat()}.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def request_id(day_date: date, i: int) -> str:
    """The id the support bot logs with each request (feedback labels join on it).

    >>> request_id(date(2026, 11, 24), 7)
    'r20261124-00007'
    """
    return f"r{day_date:%Y%m%d}-{i:05d}"


FEEDBACK_SHARES = (0.5, 0.2)  # of a day's requests, labelled the next day and the day after
FEEDBACK_CORRECTIONS = 0.02   # labelled wrongly the next day, corrected the day after


def write_feedback_files(out_dir: Path, seed: int = 0, days: int = 7, per_day: int = 1500) -> tuple[Path, ...]:
    """Delayed, partial and repeated true labels: ``feedback/<date>.csv`` (prompt_id, label,
    labelled_at) holds labels of earlier days' requests, as human review sends them back.

    Half of a day's requests are labelled the next day and a fifth the day after; a few are first
    labelled wrongly and corrected a day later. The true label is the record's topic, so crypto and
    pay-later questions (which no known label covers) count as errors whatever was predicted.
    """
    folder = Path(out_dir) / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    by_date: dict[date, list[tuple[str, str, str]]] = {}
    for day in range(1, days + 1):
        day_date = DEFAULT_START + timedelta(days=day - 1)
        rng = random.Random(f"{_SALT}:{seed}:feedback:{day}")
        for i, record in enumerate(production_day(day, per_day, seed, DEFAULT_START)):
            rid, draw = request_id(day_date, i), rng.random()
            late = 1 if draw < FEEDBACK_SHARES[0] else 2 if draw < sum(FEEDBACK_SHARES) else None
            if late is None:
                continue
            if late == 1 and rng.random() < FEEDBACK_CORRECTIONS:
                by_date.setdefault(day_date + timedelta(days=1), []).append((rid, rng.choice(INTENTS), "T09:00:00Z"))
                late = 2
            by_date.setdefault(day_date + timedelta(days=late), []).append((rid, record["topic"], "T10:00:00Z"))
    paths = []
    for when in sorted(d for d in by_date if d < DEFAULT_START + timedelta(days=days)):
        path = folder / f"{when.isoformat()}.csv"
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(("prompt_id", "label", "labelled_at"))
            writer.writerows((rid, label, when.isoformat() + at) for rid, label, at in by_date[when])
        paths.append(path)
    return tuple(paths)


def write_golden_files(out_dir: Path, seed: int = 0, n: int = 400) -> tuple[Path, Path]:
    """The golden set (labelled known-intent prompts) with the classifier's predictions at launch and
    now: the model did not change, so both runs score the same (about CLASSIFIER_ACCURACY)."""
    rng = random.Random(f"{_SALT}:{seed}:golden")
    train = _training_pool(seed)
    weights = [INTENT_TRAFFIC[intent] for intent in INTENTS]
    rows = []
    for i, intent in enumerate(rng.choices(INTENTS, weights=weights, k=n)):
        prompt, predicted = _known_record(intent, train, rng)
        rows.append((f"g{i:04d}", prompt, intent, predicted))
    paths = (Path(out_dir) / "golden_launch.csv", Path(out_dir) / "golden_now.csv")
    for path in paths:
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(("id", "text", "label", "prediction"))
            writer.writerows(rows)
    return paths


def _write_train(path: Path, pairs: Sequence[tuple[str, str]]) -> Path:
    """Write ``text,label`` CSV and return its path."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("text", "label"))
        writer.writerows(pairs)
    return path


def write_demo_files(
    out_dir: Path,
    seed: int = 0,
    days: int = 7,
    per_day: int = 1500,
    n_per_intent: int = 150,
    with_bad_rows: bool = True,
) -> DemoFiles:
    """Write the demo data set: ``train.csv`` and ``logs/<date>.jsonl`` under ``out_dir``.

    Parameters
    ----------
    out_dir : Path
        Created if missing; files of the same names are overwritten.
    seed : int
        Same seed, byte-identical files.
    days : int
        Number of production days, starting 2026-11-18.
    per_day : int
        Good records per day.
    n_per_intent : int
        Training prompts per intent (see :func:`training_prompts`).
    with_bad_rows : bool
        If true, day 3's file also holds six malformed lines spread among the good ones: a
        truncated JSON line, a plain-text log line, and records whose prompt is empty, a number,
        null, or missing.

    Returns
    -------
    DemoFiles
        The paths written.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     files = write_demo_files(Path(tmp), days=2, per_day=20, n_per_intent=100)
    ...     [p.name for p in files.logs], files.train.name
    (['2026-11-18.jsonl', '2026-11-19.jsonl'], 'train.csv')
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    out_dir = Path(out_dir)
    logs_dir = out_dir / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    train = _write_train(out_dir / "train.csv", training_prompts(n_per_intent, seed))
    logs = tuple(
        _write_day(logs_dir, day, per_day, seed, with_bad_rows and day == BAD_ROWS_DAY)
        for day in range(1, days + 1)
    )
    return DemoFiles(train=train, logs=logs, truth=logs_dir)
