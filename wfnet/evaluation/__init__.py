"""What an unlearned model is measured by: Acc_r / Acc_f / ZRF, MIA-efficacy and SalUn's scorecard,
relearn time, insertion / deletion and filter-class relationships, sets of classes at once."""
